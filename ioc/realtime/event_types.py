"""Every live event's fields, declared once (as Zulip's ``event_types.py`` does).

Each event type has a ``TypedDict`` for its ``data`` and one builder, keyword-only and
typed, that producers (the services) call; the snapshot builds its lists of alerts,
incidents and requests from the same data builders, so the first state a browser gets
and every later change have one shape. The README's live contract lists these fields and
``tests/ioc/test_event_types.py`` holds the two together.

The core cannot import the apps (layer rule), so builders take plain values, not models:
each producer turns its model into them (``cameras``, ``services``, ``ioc.services``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypedDict

from ioc.realtime.events import Event, EventType

# --- Envelope -------------------------------------------------------------------------------


class Message(TypedDict):
    """What the browser receives for every event: ``data`` is the type's own TypedDict;
    ``group``, ``seq`` and ``epoch`` are added by delivery (each group numbers its
    messages; the epoch changes when its counter starts again, as after an empty Redis)."""

    type: str
    ward: str
    at: str
    data: dict[str, Any]
    group: str
    seq: int
    epoch: str


# --- Devices ---------------------------------------------------------------------------------


class DeviceStatusData(TypedDict):
    """``device.status``: a device's status changed (or was set by hand)."""

    device: str
    kind: str
    status: str
    last_seen_at: datetime | None


def device_status(
    *, ward: str, device: str, kind: str, status: str, last_seen_at: datetime | None
) -> Event:
    """The ``device.status`` event of one device's current state."""
    data = DeviceStatusData(device=device, kind=kind, status=status, last_seen_at=last_seen_at)
    return Event(type=EventType.DEVICE_STATUS, ward=ward, data=dict(data))


class DeviceReadingData(TypedDict):
    """``device.reading``: values that changed, coalesced per device and transaction."""

    device: str
    values: dict[str, Any]
    ts: datetime | None


def device_reading(*, ward: str, device: str, values: dict[str, Any], ts: datetime | None) -> Event:
    """The ``device.reading`` event of a device's fresh values (at ``ts``, its last seen)."""
    data = DeviceReadingData(device=device, values=values, ts=ts)
    return Event(type=EventType.DEVICE_READING, ward=ward, data=dict(data))


# --- Alerts ----------------------------------------------------------------------------------


class AlertData(TypedDict):
    """``alert.raised`` / ``alert.updated``, and each of the snapshot's ``alerts``."""

    id: int
    device: str | None
    kind: str
    cause: str
    severity: str
    status: str
    title: str
    raised_at: datetime
    last_seen_at: datetime
    occurrences: int
    assignee: str | None
    auto_cleared: bool
    incident: int | None


def alert_event(*, ward: str, alert: AlertData, raised: bool) -> Event:
    """``alert.raised`` for a new alert, ``alert.updated`` for any later change."""
    kind = EventType.ALERT_RAISED if raised else EventType.ALERT_UPDATED
    return Event(type=kind, ward=ward, data=dict(alert))


# --- Incidents -------------------------------------------------------------------------------


class IncidentData(TypedDict):
    """``incident.updated``, and each of the snapshot's ``incidents``."""

    id: int
    reference: str
    title: str
    type: str
    type_name: str
    severity: str
    status: str
    lat: float
    lon: float
    assignee: str | None
    created_at: datetime
    updated_at: datetime


def incident_updated(*, ward: str, incident: IncidentData) -> Event:
    """``incident.updated``: an incident was opened or changed."""
    return Event(type=EventType.INCIDENT_UPDATED, ward=ward, data=dict(incident))


# --- Citizen requests ------------------------------------------------------------------------


class RequestData(TypedDict):
    """``request.created`` / ``request.updated``, and each of the snapshot's ``requests``:
    never the reporter's name, contact or photos (personal data)."""

    id: int
    code: str
    category: str
    category_name: str
    status: str
    level: str
    lat: float
    lon: float
    department: str | None
    deadline_at: datetime
    overdue: bool
    created_at: datetime
    updated_at: datetime
    rating: int | None


def request_event(*, ward: str, request: RequestData, created: bool) -> Event:
    """``request.created`` for a new filing, ``request.updated`` for any later change."""
    kind = EventType.REQUEST_CREATED if created else EventType.REQUEST_UPDATED
    return Event(type=kind, ward=ward, data=dict(request))


# --- Traffic-signal commands -----------------------------------------------------------------


class SignalCommandData(TypedDict):
    """``signal.command``: one step of a traffic-signal command (also the API's shape)."""

    device: str
    command: int
    action: str
    plan: str
    status: str
    reason: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime | None
    sent_at: datetime | None
    acknowledged_at: datetime | None
    ended_at: datetime | None
    error: str
    readback: dict[str, Any]


def signal_command(*, ward: str, command: SignalCommandData) -> Event:
    """``signal.command``: a command was requested, sent, acknowledged or ended."""
    return Event(type=EventType.SIGNAL_COMMAND, ward=ward, data=dict(command))


# --- Administrative units --------------------------------------------------------------------


class UnitsReorganisedData(TypedDict):
    """``units.reorganised``: units ended (``retired``, their codes) and new ones began
    (``units``) on ``effective``; screens take their new scope (a new snapshot) and reload."""

    effective: date
    retired: list[str]
    units: list[str]


def units_reorganised(*, effective: date, retired: list[str], units: list[str]) -> Event:
    """``units.reorganised``: sent to ``city`` and to every unit's group it names."""
    data = UnitsReorganisedData(effective=effective, retired=sorted(retired), units=sorted(units))
    return Event(type=EventType.UNITS_REORGANISED, ward="", data=dict(data))


# --- Messages that are not changes -----------------------------------------------------------


class HeartbeatMessage(TypedDict):
    """``heartbeat``: the group's current ``seq``, not advanced, and its ``epoch``; empty
    ``ward`` and ``data``."""

    type: Literal["heartbeat"]
    group: str
    seq: int
    epoch: str
    at: str
    ward: str
    data: dict[str, Any]


def heartbeat_message(*, group: str, seq: int, at: str, epoch: str = "") -> HeartbeatMessage:
    """The heartbeat sent through ``group``."""
    return HeartbeatMessage(
        type="heartbeat", group=group, seq=seq, epoch=epoch, at=at, ward="", data={}
    )


class BatchMessage(TypedDict):
    """``batch`` (only for clients that asked with ``?batch=1``): several events of one
    group in one frame, each with its own ``group`` and ``seq``. Joined as text by
    ``sequence.batch_text``, never built as a dict; declared here for readers."""

    type: Literal["batch"]
    group: str
    events: list[Message]


class SnapshotDevice(TypedDict):
    """One device of the snapshot's ``devices`` (keyed by its code)."""

    status: str
    kind: str
    ward: str
    last_seen_at: datetime | None
    lat: float | None
    lon: float | None
    name: str


class Snapshot(TypedDict):
    """``snapshot``: the state a client starts (and resynchronises) from. Its ``alerts``,
    ``incidents`` and ``requests`` are each their event's data plus the item's ``ward``;
    ``seq`` is each group's last number, read before the data, ``epoch`` each group's
    counter's epoch ("" before its first message)."""

    type: Literal["snapshot"]
    at: datetime
    heartbeat_seconds: float
    seq: dict[str, int]
    epoch: dict[str, str]
    wards: list[str]
    devices_embedded: bool
    devices: dict[str, SnapshotDevice]
    alerts: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    kpis: dict[str, Any]


# The data TypedDict of each event type: what the README's contract table lists.
DATA_TYPES: dict[EventType, type] = {
    EventType.DEVICE_STATUS: DeviceStatusData,
    EventType.DEVICE_READING: DeviceReadingData,
    EventType.ALERT_RAISED: AlertData,
    EventType.ALERT_UPDATED: AlertData,
    EventType.INCIDENT_UPDATED: IncidentData,
    EventType.REQUEST_CREATED: RequestData,
    EventType.REQUEST_UPDATED: RequestData,
    EventType.SIGNAL_COMMAND: SignalCommandData,
    EventType.UNITS_REORGANISED: UnitsReorganisedData,
}
