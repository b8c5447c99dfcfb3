"""What a live event is: its type, the ward it concerns, JSON-safe data; and the groups
it travels through (``city`` and ``ward.<code>``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

CITY_GROUP = "city"
# The message type consumers handle: ``ops_event`` (channels maps "." to "_").
CONSUMER_MESSAGE_TYPE = "ops.event"


class EventType(StrEnum):
    """Every live event type, named once here (their fields: ``event_types``)."""

    DEVICE_STATUS = "device.status"
    DEVICE_READING = "device.reading"
    ALERT_RAISED = "alert.raised"
    ALERT_UPDATED = "alert.updated"
    INCIDENT_UPDATED = "incident.updated"
    REQUEST_CREATED = "request.created"
    REQUEST_UPDATED = "request.updated"
    SIGNAL_COMMAND = "signal.command"
    # Several events of one group in one message, for clients that ask for it (batch=1).
    BATCH = "batch"
    # Not a change: sent periodically through every group so that a client can tell a
    # quiet city from a dead channel (a Redis restart silently drops group memberships).
    HEARTBEAT = "heartbeat"


@dataclass(frozen=True)
class Event:
    """A live event: its type, the ward it concerns, and JSON-safe data.

    Build one with a function of ``ioc.realtime.event_types``, which declares each
    type's fields, rather than by hand.
    """

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
            "data": json_safe(self.data),
        }


_DJANGO_JSON = DjangoJSONEncoder()
# orjson hands datetimes, dates and times to ``default`` too, so they come out as Django
# writes them (milliseconds, "Z"); keys that are not text become text, as json.dumps does.
_JSON_SAFE_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def json_safe(data: Any) -> Any:
    """``data`` as plain JSON types (datetimes and decimals become text, as Django encodes):
    the same result as a round trip through ``DjangoJSONEncoder``, about ten times faster
    (a snapshot holds thousands of values)."""
    return orjson.loads(orjson.dumps(data, default=_DJANGO_JSON.default, option=_JSON_SAFE_OPTIONS))


def ward_group(ward_code: str) -> str:
    """The channel-layer group of one ward."""
    return f"ward.{ward_code}"


def event_groups(event: Event) -> list[str]:
    """The groups an event goes to: ``city``, and its ward's when it has one."""
    return [CITY_GROUP, ward_group(event.ward)] if event.ward else [CITY_GROUP]
