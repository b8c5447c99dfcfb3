"""Reads of the device registry, scoped by ward through ioc.selectors. The map's reads are
in ``cameras.map_selectors``, a metric's series in ``cameras.reading_selectors``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from cameras.choices import CommandStatus, DeviceKind, DeviceStatus
from cameras.models import (
    CameraDetail,
    Device,
    DeviceEvent,
    Gateway,
    SensorThreshold,
    SignalCommand,
    SignalDetail,
    StatusChange,
)
from cameras.principals import Principal
from ioc.choices import AlertStatus
from ioc.models import Alert
from ioc.selectors import AnyUser, scope_by_ward, wards_named
from ioc.tokens import secret_hash


def devices_visible_to(user: AnyUser) -> QuerySet[Device]:
    """Every device ``user`` may see."""
    return scope_by_ward(Device.objects.select_related("ward"), user)


def device_get_for_user(user: AnyUser, code: str) -> Device:
    """One device by code if visible to ``user``; Device.DoesNotExist otherwise (404)."""
    return devices_visible_to(user).get(code=code)


def camera_for_user(user: AnyUser, code: str) -> Device | None:
    """A camera ``user`` may see, by code, with its ward; None for any other device, or
    one of another ward (the device page's scoping: both are a 404)."""
    return devices_visible_to(user).filter(code=code, kind=DeviceKind.CAMERA).first()


@dataclass(frozen=True)
class DeviceTally:
    """How many devices there are per (ward id, kind, status), from one GROUP BY over an
    index (``device_ward_kind_status``); the per-ward table and the per-kind KPIs both
    read it, so a page that shows both counts the devices once."""

    counts: dict[tuple[int, str, str], int]

    def by_ward(self) -> dict[int, dict[str, int]]:
        """Per ward id: total, online, and the totals of cameras, sensors and signals."""
        plural: dict[str, str] = {DeviceKind.CAMERA: "cameras", DeviceKind.SENSOR: "sensors"}
        wards: dict[int, dict[str, int]] = {}
        for (ward_id, kind, status), count in self.counts.items():
            row = wards.setdefault(
                ward_id, {"total": 0, "online": 0, "cameras": 0, "sensors": 0, "signals": 0}
            )
            row["total"] += count
            row["online"] += count if status == DeviceStatus.ONLINE else 0
            row[plural.get(kind, "signals")] += count
        return wards

    def by_kind(self) -> dict[str, dict[str, int]]:
        """Per kind (every kind present, zero when none): total and online."""
        kinds = {kind: {"total": 0, "online": 0} for kind in DeviceKind.values}
        for (_ward_id, kind, status), count in self.counts.items():
            row = kinds.setdefault(kind, {"total": 0, "online": 0})
            row["total"] += count
            row["online"] += count if status == DeviceStatus.ONLINE else 0
        return kinds


def device_tally(user: AnyUser, *, ward: Any = None) -> DeviceTally:
    """The devices ``user`` may see (in one ``ward``, if given), counted per ward, kind and
    status: one query, whatever the number of devices."""
    devices = scope_by_ward(Device.objects.all(), user)
    if ward is not None:
        devices = devices.filter(ward=ward)
    # Count("kind") rather than of ids: every column read is in the index, so PostgreSQL
    # reads the index alone.
    rows = devices.order_by().values_list("ward_id", "kind", "status").annotate(n=Count("kind"))
    return DeviceTally({(ward_id, kind, status): n for ward_id, kind, status, n in rows})


def device_map_features(user: AnyUser, *, ward_code: str | None = None) -> list[Mapping[str, Any]]:
    """Visible devices as plain dicts for a GeoJSON map layer (one query, no models)."""
    queryset = devices_visible_to(user)
    if ward_code:
        queryset = queryset.filter(ward__in=wards_named(ward_code))
    return list(
        queryset.values(
            "code", "name", "kind", "status", "latitude", "longitude", "last_seen_at", "ward__code"
        )
    )


def principal_for_authorization(header: str) -> Principal | None:
    """The device or gateway a ``Device <token>`` / ``Gateway <token>`` header names, or None
    when the header is missing, malformed, or the token unknown or retired."""
    scheme, _sep, token = header.strip().partition(" ")
    token = token.strip()
    if not token or len(token) > 200:
        return None
    hashed = secret_hash(token)
    if scheme == "Device":
        row = Device.objects.filter(token_hash=hashed).values("pk", "code").first()
        return Principal("device", row["code"], row["pk"]) if row else None
    if scheme == "Gateway":
        row = Gateway.objects.filter(token_hash=hashed, is_active=True).values("pk", "code").first()
        return Principal("gateway", row["code"], row["pk"]) if row else None
    return None


# --- Device list, detail and series (staff pages and the device API) ------------------------


@dataclass(frozen=True)
class DeviceFilters:
    """What a device list is narrowed to: a search text and exact ward, kind, status."""

    q: str = ""
    ward: str = ""
    kind: str = ""
    status: str = ""

    def as_params(self) -> dict[str, str]:
        """The filters that are set, as query parameters."""
        return {key: value for key, value in asdict(self).items() if value}


def device_filters_parse(params: Mapping[str, Any]) -> tuple[DeviceFilters, dict[str, str]]:
    """Filters from query parameters, and an error per parameter that has a bad value.

    A bad kind or status is left out of the filters: pages ignore it, the API answers 400.
    """
    errors: dict[str, str] = {}
    values = {name: str(params.get(name) or "").strip() for name in ("q", "ward", "kind", "status")}
    for name, allowed in (("kind", DeviceKind.values), ("status", DeviceStatus.values)):
        if values[name] and values[name] not in allowed:
            errors[name] = f"{name} must be one of: {', '.join(allowed)}."
            values[name] = ""
    values["q"] = values["q"][:100]
    return DeviceFilters(**values), errors


def devices_filtered(
    user: AnyUser, filters: DeviceFilters, *, ignore_status: bool = False
) -> QuerySet[Device]:
    """The devices ``user`` may see that match ``filters``, by code (ward and gateway joined).

    ``ignore_status`` drops the status filter, for counting devices by status.
    """
    queryset = devices_visible_to(user).select_related("gateway")
    if filters.q:
        queryset = queryset.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    if filters.ward:
        queryset = queryset.filter(ward__in=wards_named(filters.ward))
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.status and not ignore_status:
        queryset = queryset.filter(status=filters.status)
    return queryset.order_by("code")


def device_status_counts(user: AnyUser, filters: DeviceFilters) -> dict[str, int]:
    """How many devices matching ``filters`` (status aside) are in each status: one query."""
    rows = (
        devices_filtered(user, filters, ignore_status=True)
        .order_by()
        .values("status")
        .annotate(count=Count("id"))
    )
    counts = dict.fromkeys(DeviceStatus.values, 0)
    counts.update({row["status"]: row["count"] for row in rows})
    return counts


# Credentials stay in the database on every read path except the snapshot proxy.
CREDENTIAL_FIELDS = ("camera__username", "camera__password", "signal__username", "signal__password")


def device_with_details_for_user(user: AnyUser, code: str) -> Device:
    """One visible device with its ward, gateway and camera or signal details, credentials
    not loaded; Device.DoesNotExist when ``user`` may not see it (404)."""
    return (
        devices_visible_to(user)
        .select_related("gateway", "camera", "signal")
        .defer(*CREDENTIAL_FIELDS)
        .prefetch_related("thresholds")
        .get(code=code)
    )


def device_camera(device: Device) -> CameraDetail | None:
    """The camera details of a device, or None (not a camera, or none recorded)."""
    try:
        return device.camera
    except CameraDetail.DoesNotExist:
        return None


def device_signal(device: Device) -> SignalDetail | None:
    """The traffic-signal details of a device, or None."""
    try:
        return device.signal
    except SignalDetail.DoesNotExist:
        return None


def device_metrics(device: Device) -> list[str]:
    """The metrics a sensor has thresholds for or last reported, sorted (no query when
    thresholds were prefetched)."""
    names = {threshold.metric for threshold in device.thresholds.all()}
    names.update(
        key
        for key, value in (device.latest or {}).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    )
    return sorted(names)


@dataclass
class DeviceDossier:
    """Everything the device page shows about one device."""

    device: Device
    camera: CameraDetail | None
    signal: SignalDetail | None
    thresholds: list[SensorThreshold]
    metrics: list[str]
    status_history: list[StatusChange]
    events: list[DeviceEvent]
    open_alerts: list[Alert]
    commands: list[SignalCommand] = field(default_factory=list)
    live_command: SignalCommand | None = None


STATUS_HISTORY_LENGTH = 20
RECENT_EVENTS_LENGTH = 50
RECENT_COMMANDS_LENGTH = 10


def device_dossier_for_user(user: AnyUser, code: str) -> DeviceDossier:
    """The device page's data for one device ``user`` may see (Device.DoesNotExist
    otherwise): a fixed number of queries, whatever the history's length."""
    device = device_with_details_for_user(user, code)
    dossier = DeviceDossier(
        device=device,
        camera=device_camera(device),
        signal=device_signal(device),
        thresholds=sorted(device.thresholds.all(), key=lambda t: t.metric),
        metrics=device_metrics(device),
        status_history=list(device.status_changes.order_by("-at", "-id")[:STATUS_HISTORY_LENGTH]),
        events=list(device.events.order_by("-ts", "-id")[:RECENT_EVENTS_LENGTH]),
        open_alerts=list(
            Alert.objects.filter(device=device)
            .select_related("assignee")
            .exclude(status=AlertStatus.RESOLVED)
            .order_by("-raised_at", "-id")
        ),
    )
    if device.kind == DeviceKind.SIGNAL:
        dossier.commands = list(
            device.commands.select_related("requested_by").order_by("-requested_at", "-id")[
                :RECENT_COMMANDS_LENGTH
            ]
        )
        dossier.live_command = signal_live_command(device)
    return dossier


LIVE_COMMAND_STATUSES = (CommandStatus.PENDING, CommandStatus.SENT, CommandStatus.ACTIVE)


def signal_live_command(device: Device) -> SignalCommand | None:
    """The signal's command that is pending, sent or active (at most one), or None."""
    return (
        device.commands.filter(status__in=LIVE_COMMAND_STATUSES)
        .select_related("requested_by")
        .first()
    )


@dataclass(frozen=True)
class SnapshotSource:
    """Where and as whom the server fetches a camera's still image (never sent to clients)."""

    url: str
    username: str
    password: str


def camera_snapshot_source(user: AnyUser, code: str) -> SnapshotSource | None:
    """The snapshot address and credentials of a camera ``user`` may see; None when the
    device is not visible, not a camera, or has no snapshot address."""
    row = (
        devices_visible_to(user)
        .filter(code=code, kind=DeviceKind.CAMERA)
        .exclude(camera__snapshot_url="")
        .values("camera__snapshot_url", "camera__username", "camera__password")
        .first()
    )
    if row is None or not row["camera__snapshot_url"]:
        return None
    return SnapshotSource(
        row["camera__snapshot_url"], row["camera__username"] or "", row["camera__password"] or ""
    )


def device_events_for(
    device: Device,
    *,
    event_type: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[DeviceEvent]:
    """A device's events, newest first, narrowed by type and a [start, end) time range.

    The device must come from a scoped selector: this adds no scoping of its own.
    """
    queryset = DeviceEvent.objects.filter(device=device)
    if event_type:
        queryset = queryset.filter(type=event_type)
    if start is not None:
        queryset = queryset.filter(ts__gte=start)
    if end is not None:
        queryset = queryset.filter(ts__lt=end)
    return queryset.order_by("-ts", "-id")


def device_export_rows(user: AnyUser, filters: DeviceFilters) -> Iterator[Mapping[str, Any]]:
    """The registry fields of the devices ``user`` may see that match ``filters``, as plain
    rows for the CSV export (one query, streamed; no credentials, no tokens)."""
    return (
        devices_filtered(user, filters)
        .values(
            "code",
            "name",
            "kind",
            "ward__code",
            "latitude",
            "longitude",
            "address",
            "vendor",
            "model_name",
            "installed_on",
            "status",
            "last_seen_at",
            "tags",
        )
        .iterator(chunk_size=2000)
    )
