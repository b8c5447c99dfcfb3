"""Heartbeats: a periodic message through every group, so a client can tell a quiet city
from a dead channel, and a missed message from its group's ``seq``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import cast

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from ioc.realtime.delivery import group_send
from ioc.realtime.event_types import heartbeat_message
from ioc.realtime.events import live_groups
from ioc.realtime.sequence import current_numbers

logger = logging.getLogger(__name__)


def heartbeat(ward_codes: list[str], department_codes: list[str] | None = None) -> int:
    """Send a heartbeat through every group of the city, its wards and its departments
    (``events.live_groups``); returns the groups reached.

    Each carries its group's current ``seq`` (not advanced) and ``epoch``: a client that
    last saw a lower number for that group, or another epoch, resynchronises.
    """
    layer = get_channel_layer()
    groups = live_groups(ward_codes, department_codes or [])
    if layer is None:
        return len(groups)
    at = timezone.now().isoformat()
    try:
        for group, (seq, epoch) in current_numbers(groups).items():
            message = heartbeat_message(group=group, seq=seq, epoch=epoch, at=at)
            group_send(layer, group, dict(message))
    except Exception:  # as in send_to_groups: logged, the next beat tries again
        logger.warning("realtime: could not deliver heartbeat to %s", groups, exc_info=True)
    return len(groups)


def heartbeat_seconds() -> float:
    """How often beat sends the heartbeat (the schedule in settings is the one source)."""
    schedule = settings.CELERY_BEAT_SCHEDULE["realtime-heartbeat"]["schedule"]
    return cast(timedelta, schedule).total_seconds()
