"""The audit log: every staff or system write leaves an entry with before and after."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from ioc.middleware import client_address
from ioc.models import AuditEntry, User


def snapshot(obj: models.Model, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON-safe copy of a model's fields, for an audit entry's before/after."""
    data = model_to_dict(obj, exclude=list(exclude))
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str))


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ward_code: str = "",
    reason: str = "",
    actor_label: str = "",
) -> AuditEntry:
    """Append one entry to the audit log; the client address comes from the request."""
    label = actor_label or (actor.get_username() if actor is not None else "system")
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=label[:150],
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        ward_code=ward_code,
        before=before,
        after=after,
        ip_address=client_address.get(),
        reason=reason,
    )
