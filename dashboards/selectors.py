"""Reads of the operations screens: KPIs and the websocket snapshot, scoped by ward.

Everything goes through the scoped selectors of ioc and cameras, so a ward official's
figures and snapshot never contain another ward's device or alert.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device
from cameras.selectors import device_map_features
from ioc import realtime, selectors
from ioc.choices import AlertStatus, Severity
from ioc.models import Alert
from ioc.selectors import AnyUser, scope_by_ward
from ioc.services.alerts import alert_payload

SNAPSHOT_ALERTS = 500


def _percent(part: int, whole: int) -> float:
    """``part`` of ``whole`` in percent, one decimal; 0.0 when there is nothing to count."""
    return round(100.0 * part / whole, 1) if whole else 0.0


def kpis_for(user: AnyUser) -> dict[str, Any]:
    """Device availability by kind and open alerts by severity in the wards ``user`` may
    see: two aggregate queries, whatever the number of devices, alerts or wards."""
    device_rows = (
        scope_by_ward(Device.objects.all(), user)
        .order_by()
        .values("kind")
        .annotate(total=Count("id"), online=Count("id", filter=Q(status=DeviceStatus.ONLINE)))
    )
    devices = {kind: {"total": 0, "online": 0, "online_pct": 0.0} for kind in DeviceKind.values}
    for row in device_rows:
        devices[row["kind"]] = {
            "total": row["total"],
            "online": row["online"],
            "online_pct": _percent(row["online"], row["total"]),
        }
    alert_rows = (
        scope_by_ward(Alert.objects.all(), user)
        .exclude(status=AlertStatus.RESOLVED)
        .order_by()
        .values("severity")
        .annotate(count=Count("id"))
    )
    alerts = dict.fromkeys(Severity.values, 0)
    alerts.update({row["severity"]: row["count"] for row in alert_rows})
    return {"devices": devices, "alerts": alerts, "alerts_open": sum(alerts.values())}


def open_alerts_for(user: AnyUser, *, limit: int = SNAPSHOT_ALERTS) -> list[dict[str, Any]]:
    """The open (not resolved) alerts ``user`` may see, newest first, as live-event
    payloads with their ward's code (one query)."""
    alerts = selectors.alerts_visible_to(user).exclude(status=AlertStatus.RESOLVED)[:limit]
    return [{**alert_payload(alert), "ward": alert.ward.code} for alert in alerts]


def _coordinate(value: Any) -> float | None:
    return float(value) if value is not None else None


def map_embeds_devices(kpis: dict[str, Any]) -> bool:
    """Whether the page and snapshot carry every device (up to ``IOC_MAP_EMBED_LIMIT``);
    above it the map loads what its viewport shows from ``/api/v1/devices.map``."""
    total = sum(int(row["total"]) for row in kpis["devices"].values())
    return total <= int(settings.IOC_MAP_EMBED_LIMIT)


def snapshot_for(user: AnyUser) -> dict[str, Any]:
    """The state a websocket client starts (or resynchronises) from, scoped to ``user``:
    KPIs, open alerts and, for a city small enough, every device; a fixed number of
    queries whatever the number of devices.

    The groups' sequence numbers are read before the data: an event numbered after them
    is delivered to the client, and one numbered before them committed before the reads.
    """
    seq = realtime.current_seqs(selectors.realtime_groups_for(user))
    kpis = kpis_for(user)
    embedded = map_embeds_devices(kpis)
    devices = {}
    if embedded:
        devices = {
            row["code"]: {
                "status": row["status"],
                "kind": row["kind"],
                "ward": row["ward__code"],
                "last_seen_at": row["last_seen_at"],
                "lat": _coordinate(row["latitude"]),
                "lon": _coordinate(row["longitude"]),
                "name": row["name"],
            }
            for row in device_map_features(user)
        }
    snapshot = {
        "type": "snapshot",
        "at": timezone.now(),
        "heartbeat_seconds": realtime.heartbeat_seconds(),
        "seq": seq,
        "wards": list(
            selectors.wards_visible_to(user).order_by("code").values_list("code", flat=True)
        ),
        "devices_embedded": embedded,
        "devices": devices,
        "alerts": open_alerts_for(user),
        "kpis": kpis,
    }
    return dict(realtime.json_safe(snapshot))
