"""What a report does to a device's state: the status it implies, a controller's reported
signal state, and the devices' latest state written back in one statement per transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from django.db import connection

from cameras.choices import DeviceStatus, EventType
from cameras.models import Device, SignalDetail


def next_status(current: str, event_type: str, data: dict[str, Any]) -> str:
    """The status a report implies. Maintenance is set by staff only; a report from an
    offline device brings it back online; faults stay until cleared."""
    if current == DeviceStatus.MAINTENANCE:
        return current
    if event_type == EventType.STATUS and data.get("status") in {
        DeviceStatus.ONLINE,
        DeviceStatus.FAULT,
    }:
        return str(data["status"])
    if event_type == EventType.FAULT:
        return DeviceStatus.ONLINE if data.get("cleared") else DeviceStatus.FAULT
    if current == DeviceStatus.OFFLINE:
        return DeviceStatus.ONLINE
    return current


def signal_state_apply(device: Device, data: dict[str, Any], ts: datetime) -> None:
    """A controller's reported mode, plan, phase and faults."""
    fields = {key: data[key] for key in ("mode", "plan", "phase") if isinstance(data.get(key), str)}
    if isinstance(data.get("faults"), list):
        fields["faults"] = [str(item)[:60] for item in data["faults"]][:20]
    if fields:
        SignalDetail.objects.filter(device=device).update(**fields, state_at=ts, comm_status="ok")


# What processing changes on a device row.
STATE_FIELDS = ("last_seen_at", "last_received_at", "latest", "status", "status_changed_at")


def device_state_save(devices: list[Device]) -> None:
    """Write the devices' latest state: on PostgreSQL one UPDATE ... FROM unnest(arrays)
    (bulk_update's CASE expressions cost the worker an eighth of its time), else
    bulk_update."""
    if not devices:
        return
    if connection.vendor != "postgresql":
        Device.objects.bulk_update(devices, list(STATE_FIELDS), batch_size=500)
        return
    table = connection.ops.quote_name(Device._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS d SET last_seen_at = v.last_seen_at, "  # noqa: S608
            "last_received_at = v.last_received_at, latest = v.latest, status = v.status, "
            "status_changed_at = v.status_changed_at FROM unnest(%s::bigint[], "
            "%s::timestamptz[], %s::timestamptz[], %s::jsonb[], %s::text[], "
            "%s::timestamptz[]) AS v(id, last_seen_at, last_received_at, latest, status, "
            "status_changed_at) WHERE d.id = v.id",
            [
                [device.pk for device in devices],
                [device.last_seen_at for device in devices],
                [device.last_received_at for device in devices],
                [orjson.dumps(device.latest).decode() for device in devices],
                [device.status for device in devices],
                [device.status_changed_at for device in devices],
            ],
        )
