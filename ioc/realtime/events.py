"""What a live event is: its type, the ward it concerns, JSON-safe data; and the groups
it travels through: the city's and its ward's, and for citizen requests the groups of the
requests' own audience (all requests, a ward's, a department's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

# Device, alert, incident and signal events of the whole city; a ward's in ``ward.<code>``.
CITY_GROUP = "city"
# Citizen requests travel apart (``REQUEST_TYPES``): department staff see the city's devices
# but only the requests routed to their department, so no group may mix the two for them.
# Every request of the city; a ward's in ``ward.<code>.requests``.
REQUESTS_GROUP = "requests"
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
    # Units were reorganised: every screen of the city or of a unit concerned takes its new
    # scope (its consumer joins its new groups and sends a new snapshot) and reloads.
    UNITS_REORGANISED = "units.reorganised"
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


REQUEST_TYPES = frozenset({EventType.REQUEST_CREATED, EventType.REQUEST_UPDATED})


def ward_group(ward_code: str) -> str:
    """The channel-layer group of one ward (its devices, alerts, incidents, signals)."""
    return f"ward.{ward_code}"


def ward_requests_group(ward_code: str) -> str:
    """The group of one ward's citizen requests."""
    return f"ward.{ward_code}.requests"


def department_group(department_code: str, ward_code: str = "") -> str:
    """The group of the requests routed to one department (in one ward, with ``ward_code``:
    a department's staff on a ward's screen)."""
    return f"department.{department_code}" + (f".ward.{ward_code}" if ward_code else "")


def event_groups(event: Event) -> list[str]:
    """The groups an event goes to. A device, alert, incident or signal event: ``city``
    and its ward's. A request event: ``requests``, its ward's requests group and, when it
    is routed to a department, that department's (city-wide and in its ward). A
    reorganisation: ``city`` and the groups of every unit it ended or created (every screen
    whose scope it changes is in one of them)."""
    if event.type == EventType.UNITS_REORGANISED:
        codes = sorted({*event.data.get("retired", []), *event.data.get("units", [])})
        return [CITY_GROUP, *(ward_group(code) for code in codes)]
    if event.type not in REQUEST_TYPES:
        return [CITY_GROUP, ward_group(event.ward)] if event.ward else [CITY_GROUP]
    groups = [REQUESTS_GROUP]
    if event.ward:
        groups.append(ward_requests_group(event.ward))
    department = event.data.get("department")
    if department:
        groups.append(department_group(department))
        if event.ward:
            groups.append(department_group(department, event.ward))
    return groups


def live_groups(ward_codes: list[str], department_codes: list[str]) -> list[str]:
    """Every group a screen may join, for the heartbeat: the city's, each ward's, each
    department's (city-wide and in each ward)."""
    groups = [CITY_GROUP, REQUESTS_GROUP]
    for ward in ward_codes:
        groups += [ward_group(ward), ward_requests_group(ward)]
    for department in department_codes:
        groups.append(department_group(department))
        groups += [department_group(department, ward) for ward in ward_codes]
    return groups
