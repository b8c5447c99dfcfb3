"""Reads of the operations screens: KPIs and the websocket snapshot, scoped by ward.

Everything goes through the scoped selectors of ioc and cameras, so a ward official's
figures and snapshot never contain another ward's device or alert.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from cameras.choices import DeviceKind
from cameras.models import Device
from cameras.selectors import CREDENTIAL_FIELDS, DeviceTally, device_map_features, device_tally
from ioc import realtime, selectors
from ioc.choices import AlertStatus, Severity
from ioc.models import Alert, Incident, Ward
from ioc.models.incidents import OPEN_STATUSES
from ioc.realtime import event_types
from ioc.selectors import AnyUser, alert_data, incident_data, scope_by_ward
from ioc.text import vietnamese_sort_key
from services.models import OPEN_STATUSES as REQUEST_OPEN_STATUSES
from services.selectors import (
    REQUEST_DATA_FIELDS,
    request_data_from_row,
    request_kpis,
    requests_visible_to,
)

SNAPSHOT_ALERTS = 500


def _percent(part: int, whole: int) -> float:
    """``part`` of ``whole`` in percent, one decimal; 0.0 when there is nothing to count."""
    return round(100.0 * part / whole, 1) if whole else 0.0


def _in(queryset: QuerySet[Any], user: AnyUser, ward: Ward | None) -> QuerySet[Any]:
    """``queryset`` scoped to ``user``'s wards and, for a one-ward screen, to ``ward``."""
    scoped = scope_by_ward(queryset, user)
    return scoped.filter(ward=ward) if ward is not None else scoped


def kpis_for(
    user: AnyUser, *, ward: Ward | None = None, tally: DeviceTally | None = None
) -> dict[str, Any]:
    """Device availability by kind, open alerts and open incidents by severity, and the
    citizen requests' figures, in the wards ``user`` may see (or in one of them): a fixed
    number of aggregate queries, whatever the number of rows or wards. ``tally``: the
    devices already counted for the same user and ward (a page that also shows them)."""
    if tally is None:
        tally = device_tally(user, ward=ward)
    devices = {
        kind: {**row, "online_pct": _percent(row["online"], row["total"])}
        for kind, row in tally.by_kind().items()
    }
    alert_rows = (
        _in(Alert.objects.all(), user, ward)
        .exclude(status=AlertStatus.RESOLVED)
        .order_by()
        .values("severity")
        .annotate(count=Count("id"))
    )
    alerts = dict.fromkeys(Severity.values, 0)
    alerts.update({row["severity"]: row["count"] for row in alert_rows})
    incident_rows = (
        _in(Incident.objects.all(), user, ward)
        .filter(status__in=OPEN_STATUSES)
        .order_by()
        .values("severity")
        .annotate(count=Count("id"))
    )
    incidents = dict.fromkeys(Severity.values, 0)
    incidents.update({row["severity"]: row["count"] for row in incident_rows})
    return {
        "devices": devices,
        "alerts": alerts,
        "alerts_open": sum(alerts.values()),
        "incidents": incidents,
        "incidents_open": sum(incidents.values()),
        "requests": request_kpis(user, ward=ward),
    }


def open_alerts_for(
    user: AnyUser, *, limit: int = SNAPSHOT_ALERTS, ward: Ward | None = None
) -> list[dict[str, Any]]:
    """The open (not resolved) alerts ``user`` may see (in ``ward``, if given), newest
    first, as live-event payloads with their ward's code (one query)."""
    alerts = selectors.alerts_visible_to(user).exclude(status=AlertStatus.RESOLVED)
    if ward is not None:
        alerts = alerts.filter(ward=ward)
    alerts = alerts[:limit]
    return [{**alert_data(alert), "ward": alert.ward.code} for alert in alerts]


def open_incidents_for(
    user: AnyUser, *, limit: int = SNAPSHOT_ALERTS, ward: Ward | None = None
) -> list[dict[str, Any]]:
    """The open and in-progress incidents ``user`` may see (in ``ward``, if given), newest
    first, as live-event payloads with their ward's code (one query)."""
    incidents = selectors.incidents_visible_to(user).filter(status__in=OPEN_STATUSES)
    if ward is not None:
        incidents = incidents.filter(ward=ward)
    incidents = incidents[:limit]
    return [{**incident_data(incident), "ward": incident.ward.code} for incident in incidents]


def open_requests_for(
    user: AnyUser, *, limit: int = SNAPSHOT_ALERTS, ward: Ward | None = None
) -> list[dict[str, Any]]:
    """The open citizen requests ``user`` works (in ``ward``, if given), nearest deadline
    first, as live-event payloads with their ward's code; no reporter data (one query over
    plain rows: a snapshot may carry hundreds)."""
    requests = requests_visible_to(user).filter(
        status__in=REQUEST_OPEN_STATUSES, merged_into__isnull=True
    )
    if ward is not None:
        requests = requests.filter(ward=ward)
    now = timezone.now()
    rows = requests.order_by("deadline_at", "id").values(*REQUEST_DATA_FIELDS, "ward__code")[:limit]
    return [{**request_data_from_row(row, now), "ward": row["ward__code"]} for row in rows]


def _coordinate(value: Any) -> float | None:
    return float(value) if value is not None else None


def map_embeds_devices(kpis: dict[str, Any]) -> bool:
    """Whether the page and snapshot carry every device (up to ``IOC_MAP_EMBED_LIMIT``);
    above it the map loads what its viewport shows from ``/api/v1/devices.map``."""
    total = sum(int(row["total"]) for row in kpis["devices"].values())
    return total <= int(settings.IOC_MAP_EMBED_LIMIT)


def snapshot_for(
    user: AnyUser, *, ward: Ward | None = None, tally: DeviceTally | None = None
) -> dict[str, Any]:
    """The websocket snapshot (``snapshot_parts``) as plain JSON types."""
    return dict(realtime.json_safe(snapshot_parts(user, ward=ward, tally=tally)))


def snapshot_parts(
    user: AnyUser, *, ward: Ward | None = None, tally: DeviceTally | None = None
) -> event_types.Snapshot:
    """The state a websocket client starts (or resynchronises) from, scoped to ``user``
    (and to one ``ward`` the user may see, for a ward's screen): KPIs, open alerts and
    incidents and, for a city small enough, every device; a fixed number of queries
    whatever the number of devices (``tally``: as for ``kpis_for``). Datetimes are still
    datetimes here; ``snapshot_for`` gives the plain JSON the client receives.

    The groups' sequence numbers (and their epochs) are read before the data: an event
    numbered after them is delivered to the client, and one numbered before them committed
    before the reads.
    """
    groups = selectors.realtime_groups_for(user, ward_code=ward.code if ward else None)
    numbers = realtime.current_numbers(groups)
    kpis = kpis_for(user, ward=ward, tally=tally)
    embedded = map_embeds_devices(kpis)
    devices: dict[str, event_types.SnapshotDevice] = {}
    if embedded:
        devices = {
            row["code"]: event_types.SnapshotDevice(
                status=row["status"],
                kind=row["kind"],
                ward=row["ward__code"],
                last_seen_at=row["last_seen_at"],
                lat=_coordinate(row["latitude"]),
                lon=_coordinate(row["longitude"]),
                name=row["name"],
            )
            for row in device_map_features(user, ward_code=ward.code if ward else None)
        }
    return event_types.Snapshot(
        type="snapshot",
        at=timezone.now(),
        heartbeat_seconds=realtime.heartbeat_seconds(),
        seq={group: last for group, (last, _epoch) in numbers.items()},
        epoch={group: epoch for group, (_last, epoch) in numbers.items()},
        wards=[ward.code]
        if ward is not None
        else list(selectors.wards_visible_to(user).order_by("code").values_list("code", flat=True)),
        devices_embedded=embedded,
        devices=devices,
        alerts=open_alerts_for(user, ward=ward),
        incidents=open_incidents_for(user, ward=ward),
        requests=open_requests_for(user, ward=ward),
        kpis=kpis,
    )


# --- Series per day (reports) ---------------------------------------------------------------

REPORT_TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class DaySeries:
    """Counts per calendar day (in the city's time zone) and group, zero-filled."""

    days: list[date]
    groups: list[str]
    counts: dict[str, list[int]]

    def rows(self) -> Iterator[tuple[date, dict[str, int]]]:
        """One (day, {group: count}) pair per day, oldest first."""
        for index, day in enumerate(self.days):
            yield day, {group: self.counts[group][index] for group in self.groups}


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """The moments a range of city days starts and ends (midnight Asia/Ho_Chi_Minh)."""
    start = datetime.combine(first, time.min, tzinfo=REPORT_TIME_ZONE)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=REPORT_TIME_ZONE)
    return start, end


def per_day(
    queryset: QuerySet[Any],
    *,
    date_field: str,
    group_field: str,
    first: date,
    last: date,
    groups: Sequence[str] = (),
) -> DaySeries:
    """How many rows of ``queryset`` fall on each day from ``first`` to ``last`` (days in
    Asia/Ho_Chi_Minh), by the value of ``group_field``: one aggregate query, every day and
    every group in ``groups`` present (zero when nothing happened).

    Generic on purpose: pass an already scoped queryset (alerts, incidents, requests).
    """
    start, end = day_bounds(first, last)
    rows = (
        queryset.filter(**{f"{date_field}__gte": start, f"{date_field}__lt": end})
        .annotate(report_day=TruncDate(date_field, tzinfo=REPORT_TIME_ZONE))
        .order_by()
        .values("report_day", group_field)
        .annotate(count=Count("pk"))
    )
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    counts: dict[str, list[int]] = {group: [0] * len(days) for group in groups}
    for row in rows:
        group = str(row[group_field])
        series = counts.setdefault(group, [0] * len(days))
        if row["report_day"] in index:
            series[index[row["report_day"]]] += row["count"]
    return DaySeries(days=days, groups=list(counts), counts=counts)


def alerts_per_day(user: AnyUser, *, first: date, last: date) -> DaySeries:
    """Alerts raised per day and severity (most severe first) in the wards ``user`` sees."""
    return per_day(
        scope_by_ward(Alert.objects.all(), user),
        date_field="raised_at",
        group_field="severity",
        first=first,
        last=last,
        groups=list(reversed(Severity.values)),
    )


def incidents_per_day(user: AnyUser, *, first: date, last: date) -> DaySeries:
    """Incidents opened per day and severity (most severe first) in the wards ``user`` sees."""
    return per_day(
        scope_by_ward(Incident.objects.all(), user),
        date_field="created_at",
        group_field="severity",
        first=first,
        last=last,
        groups=list(reversed(Severity.values)),
    )


# --- Open alerts as the /ops/ feed shows them -------------------------------------------------


def open_alerts_filtered(
    user: AnyUser, *, ward: str = "", kinds: Sequence[str] | None = None, severity: str = ""
) -> QuerySet[Alert]:
    """The open alerts ``user`` may see, newest first, narrowed like the /ops/ screen: by
    ward code, the kinds of device they are about (None: any, with or without a device;
    an empty list: none, as when every layer is switched off) and severity."""
    queryset = selectors.alerts_visible_to(user).exclude(status=AlertStatus.RESOLVED)
    if ward:
        queryset = queryset.filter(ward__in=selectors.wards_named(ward))
    if kinds is not None:
        queryset = queryset.filter(device__kind__in=list(kinds))
    if severity:
        queryset = queryset.filter(severity=severity)
    return queryset


# --- The camera wall ---------------------------------------------------------------------------

WALL_MAX_CODES = 200


def wall_cameras(
    user: AnyUser, *, ward: Ward | None = None, codes: Sequence[str] = ()
) -> QuerySet[Device]:
    """The cameras of a wall: a chosen set of codes (in the given order, unknown and
    invisible ones left out) or else one ward's, or every visible camera; scoped to
    ``user``, with the snapshot address presence and stream known (one query)."""
    queryset = (
        scope_by_ward(Device.objects.filter(kind=DeviceKind.CAMERA), user)
        .select_related("ward", "camera")
        .defer(*(name for name in CREDENTIAL_FIELDS if name.startswith("camera__")))
    )
    if codes:
        wanted = list(dict.fromkeys(codes))[:WALL_MAX_CODES]
        order = Case(
            *[When(code=code, then=Value(n)) for n, code in enumerate(wanted)],
            output_field=IntegerField(),
        )
        return queryset.filter(code__in=wanted).order_by(order)
    if ward is not None:
        queryset = queryset.filter(ward=ward)
    return queryset.order_by("ward__code", "code")


# --- Per unit, on the map of a chosen day (reports) -------------------------------------------


@dataclass(frozen=True)
class UnitReportRow:
    """What happened in one unit of the chosen map over the report's days."""

    code: str
    title: str
    alerts: int
    incidents: int
    requests: int
    requests_resolved: int

    @property
    def total(self) -> int:
        return self.alerts + self.incidents + self.requests


def per_unit(
    user: AnyUser, *, first: date, last: date, on: date
) -> tuple[list[UnitReportRow], UnitReportRow | None]:
    """Alerts raised, incidents opened, requests received and requests resolved from
    ``first`` to ``last`` (city days), counted on the units in force on ``on`` that
    ``user`` may see (``dashboards.unit_map``: whatever unit a record had in its time).
    Returns the units' rows (by name) and the row of what no visible unit of that day
    holds (a record with no place, or one now in a unit the user does not see), or None."""
    from dashboards.unit_map import NOT_PLACED, UnitMap

    start, end = day_bounds(first, last)
    units = UnitMap(on)
    alerts = units.count(
        scope_by_ward(Alert.objects.filter(raised_at__gte=start, raised_at__lt=end), user),
        place=("device__longitude", "device__latitude"),
    )
    incidents = units.count(
        scope_by_ward(Incident.objects.filter(created_at__gte=start, created_at__lt=end), user),
        place=("longitude", "latitude"),
    )
    requests = requests_visible_to(user).filter(merged_into__isnull=True)
    received = units.count(
        requests.filter(created_at__gte=start, created_at__lt=end),
        place=("longitude", "latitude"),
    )
    resolved = units.count(
        requests.filter(resolved_at__gte=start, resolved_at__lt=end),
        place=("longitude", "latitude"),
    )
    visible = set(selectors.wards_visible_to(user, on=on).values_list("pk", flat=True))
    rows = [
        UnitReportRow(
            code=ward.code,
            title=ward.title,
            alerts=alerts.get(pk, 0),
            incidents=incidents.get(pk, 0),
            requests=received.get(pk, 0),
            requests_resolved=resolved.get(pk, 0),
        )
        for pk, ward in units.units.items()
        if pk in visible
    ]
    rows.sort(key=lambda row: vietnamese_sort_key(row.title))
    elsewhere = [NOT_PLACED, *(pk for pk in units.units if pk not in visible)]
    rest = UnitReportRow(
        code="",
        title="",
        alerts=sum(alerts.get(pk, 0) for pk in elsewhere),
        incidents=sum(incidents.get(pk, 0) for pk in elsewhere),
        requests=sum(received.get(pk, 0) for pk in elsewhere),
        requests_resolved=sum(resolved.get(pk, 0) for pk in elsewhere),
    )
    return rows, (rest if rest.total or rest.requests_resolved else None)
