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
from ioc.realtime.events import CITY_GROUP, ward_group
from ioc.realtime.sequence import current_seqs

logger = logging.getLogger(__name__)


def heartbeat(ward_codes: list[str]) -> int:
    """Send a heartbeat through ``city`` and every ward group; returns the groups reached.

    Each carries its group's current ``seq`` (not advanced): a client that last saw a lower
    number for that group has missed a message and resynchronises.
    """
    layer = get_channel_layer()
    groups = [CITY_GROUP, *(ward_group(code) for code in ward_codes)]
    if layer is None:
        return len(groups)
    at = timezone.now().isoformat()
    try:
        for group, seq in current_seqs(groups).items():
            message = heartbeat_message(group=group, seq=seq, at=at)
            group_send(layer, group, dict(message))
    except Exception:  # as in send_to_groups: logged, the next beat tries again
        logger.warning("realtime: could not deliver heartbeat to %s", groups, exc_info=True)
    return len(groups)


def heartbeat_seconds() -> float:
    """How often beat sends the heartbeat (the schedule in settings is the one source)."""
    schedule = settings.CELERY_BEAT_SCHEDULE["realtime-heartbeat"]["schedule"]
    return cast(timedelta, schedule).total_seconds()
