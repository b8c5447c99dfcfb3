"""Open311 keys: issued to an integrator, shown once, stored as ``ioc.tokens.secret_hash``
(the lookup, ``selectors.open311_key_for_secret``, hashes the same way)."""

from __future__ import annotations

from django.db import transaction

from ioc.models import User
from ioc.services.audit import audit_record
from ioc.text import text_clean as _text
from ioc.tokens import secret_hash, secret_new
from services.models import Open311Key


@transaction.atomic
def open311_key_issue(*, name: str, actor_label: str, actor: User | None = None) -> str:
    """Issue a new Open311 key for an integrator and return it: shown once, stored hashed;
    revoke it in the admin (``is_active``)."""
    name = _text(name, "name", required=True, limit=120)
    key = secret_new()
    client = Open311Key(name=name, key_hash=secret_hash(key))
    client.full_clean()
    client.save()
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="open311_key.issued",
        obj=client,
        after={"name": name},
    )
    return key
