"""The audit log: every staff or system write leaves an entry with before and after."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from ioc.middleware import client_address
from ioc.models import AuditEntry, User

# Fields whose values are credentials: an entry shows that they changed, never what they
# are (a keyed fingerprint, different for each value, that cannot be turned back).
SECRET_FIELDS = frozenset(
    {"password", "secret", "key", "token", "token_hash", "key_hash", "api_key", "bin_key"}
)
# user:password@ in a URL (an RTSP stream's, a controller's): the password part is masked.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)(?P<secret>[^/@\s]+)(?=@)")


def masked(value: Any) -> str:
    """A credential as the audit log shows it: empty stays empty; anything else becomes a
    short fingerprint keyed with the secret key (changed values show as changed)."""
    if value in (None, ""):
        return ""
    digest = hmac.new(settings.SECRET_KEY.encode(), str(value).encode(), hashlib.sha256)
    return f"masked:{digest.hexdigest()[:8]}"


def _masked_value(name: str, value: Any) -> Any:
    if name in SECRET_FIELDS:
        return masked(value)
    if isinstance(value, str) and "@" in value:
        return _URL_PASSWORD.sub(lambda m: m["head"] + masked(m["secret"]), value)
    return value


def snapshot(obj: models.Model, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON-safe copy of a model's fields, for an audit entry's before/after.

    Credentials (SECRET_FIELDS, passwords inside URLs) are masked; many-to-many fields are
    read from the database as they are now, as the sorted names of the related objects.
    """
    data = model_to_dict(obj, exclude=list(exclude))
    for field in obj._meta.many_to_many:
        if field.name in data:
            data[field.name] = (
                sorted(str(related) for related in getattr(obj, field.name).all())
                if obj.pk is not None
                else []
            )
    data = {name: _masked_value(name, value) for name, value in data.items()}
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str))


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ward_code: str = "",
    reason: str = "",
    actor_label: str = "",
    object_type: str = "",
    object_repr: str = "",
) -> AuditEntry:
    """Append one entry to the audit log; the client address comes from the request.

    ``obj`` may be None for an event about no stored object (a failed login with an unknown
    username): ``object_type`` and ``object_repr`` then say what it was about.
    """
    entry = audit_entry(
        actor=actor,
        action=action,
        obj=obj,
        before=before,
        after=after,
        ward_code=ward_code,
        reason=reason,
        actor_label=actor_label,
        object_type=object_type,
        object_repr=object_repr,
    )
    entry.save()
    return entry


def audit_entry(
    *,
    actor: User | None,
    action: str,
    obj: models.Model | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ward_code: str = "",
    reason: str = "",
    actor_label: str = "",
    object_type: str = "",
    object_repr: str = "",
    object_id: str = "",
) -> AuditEntry:
    """The entry ``audit_record`` appends, not yet saved: for a write of many objects at
    once, whose entries are saved together (``AuditEntry.objects.bulk_create``); such a
    write may name its objects without loading them (``object_type``, ``object_id``,
    ``object_repr``)."""
    label = actor_label or (actor.get_username() if actor is not None else "system")
    return AuditEntry(
        actor=actor,
        actor_label=label[:150],
        action=action,
        object_type=object_type or (obj._meta.label_lower if obj is not None else ""),
        object_id=object_id or (str(obj.pk) if obj is not None else ""),
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:200],
        ward_code=ward_code,
        before=before,
        after=after,
        ip_address=client_address.get(),
        reason=reason,
    )
