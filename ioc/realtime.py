"""The one way to push a live event to the browsers (DESIGN.md, "Data flow").

Services call :func:`publish`; the event leaves the process only after the surrounding
transaction commits, and goes to the group ``city`` and to the group of its ward.
Consumers join only the groups their user may see (``ioc.selectors.realtime_groups_for``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

CITY_GROUP = "city"
# The message type consumers handle: ``ops_event`` (channels maps "." to "_").
CONSUMER_MESSAGE_TYPE = "ops.event"


class EventType(StrEnum):
    """Every live event type, named once here (DESIGN.md websocket contract)."""

    DEVICE_STATUS = "device.status"
    DEVICE_READING = "device.reading"
    ALERT_RAISED = "alert.raised"
    ALERT_UPDATED = "alert.updated"
    INCIDENT_UPDATED = "incident.updated"
    REQUEST_CREATED = "request.created"
    REQUEST_UPDATED = "request.updated"
    SIGNAL_COMMAND = "signal.command"
    # Not a change: sent periodically through every group so that a client can tell a
    # quiet city from a dead channel (a Redis restart silently drops group memberships).
    HEARTBEAT = "heartbeat"


@dataclass(frozen=True)
class Event:
    """A live event: its type, the ward it concerns, and JSON-safe data."""

    type: EventType
    ward: str
    data: dict[str, Any]
    at: datetime = field(default_factory=timezone.now)

    def as_message(self) -> dict[str, Any]:
        """The JSON object the browser receives."""
        return {
            "type": str(self.type),
            "ward": self.ward,
            "at": self.at.isoformat(),
            "data": json.loads(json.dumps(self.data, cls=DjangoJSONEncoder)),
        }


def ward_group(ward_code: str) -> str:
    """The channel-layer group of one ward."""
    return f"ward.{ward_code}"


def publish(event: Event) -> None:
    """Send ``event`` to ``city`` and to its ward's group once the transaction commits."""
    message = event.as_message()  # fail fast, inside the service, on non-JSON data
    groups = [CITY_GROUP, ward_group(event.ward)] if event.ward else [CITY_GROUP]
    transaction.on_commit(lambda: send_to_groups(groups, message))


def send_to_groups(groups: list[str], message: dict[str, Any]) -> None:
    """Deliver a message to groups now. A channel-layer outage is logged, never raised:
    the write that caused the event has already committed, and clients resynchronise."""
    layer = get_channel_layer()
    if layer is None:
        return
    payload = {"type": CONSUMER_MESSAGE_TYPE, "event": message}
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, payload)
    except Exception:  # the channel layer (Redis) is down or refused the message
        logger.warning(
            "realtime: could not deliver %s to %s", message["type"], groups, exc_info=True
        )


def heartbeat(ward_codes: list[str]) -> int:
    """Send a heartbeat through ``city`` and every ward group; returns the groups reached."""
    message = {
        "type": str(EventType.HEARTBEAT),
        "ward": "",
        "at": timezone.now().isoformat(),
        "data": {},
    }
    groups = [CITY_GROUP, *(ward_group(code) for code in ward_codes)]
    send_to_groups(groups, message)
    return len(groups)
