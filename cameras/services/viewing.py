"""Watching cameras live, on record: the relay opens a viewing session when a verified
stream token starts a stream and ends it when the stream stops (Law 91/2025/QH15: a
person's image is personal data, so who watched which camera, from when to when, is kept)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from cameras.models import ViewingSession
from cameras.selectors import camera_for_user
from cameras.video.tokens import StreamClaims, StreamTokenRefused
from ioc.models import User


@transaction.atomic
def viewing_start(*, claims: StreamClaims, address: str | None, relay: str) -> ViewingSession:
    """Record that the holder of a verified token started watching its camera.

    The viewer must still be an active account that sees the camera (a scope taken away
    after the token was issued refuses the stream: StreamTokenRefused, reason ``scope``).
    """
    user = User.objects.filter(pk=claims.user_id, is_active=True).first()
    device = camera_for_user(user, claims.camera) if user is not None else None
    if user is None or device is None:
        raise StreamTokenRefused("scope", "the viewer may no longer see this camera")
    session = ViewingSession(
        user=user,
        device=device,
        quality=claims.quality,
        started_at=timezone.now(),
        address=address or None,
        relay=relay,
        token_id=claims.token_id,
    )
    session.full_clean()
    session.save()
    return session


@transaction.atomic
def viewing_end(*, session: ViewingSession, at: datetime | None = None) -> ViewingSession:
    """Record when a viewing session ended (now by default); a session already ended
    keeps its first end, so a relay may report twice."""
    locked = ViewingSession.objects.select_for_update().get(pk=session.pk)
    if locked.ended_at is None:
        locked.ended_at = max(at or timezone.now(), locked.started_at)
        locked.save(update_fields=["ended_at"])
    session.ended_at = locked.ended_at
    return locked
