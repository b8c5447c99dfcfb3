"""Readings of one device merge before they leave: within a transaction (``delivery``)
and within a batch window (``batcher``), so traffic is bounded by devices, not events."""

from __future__ import annotations

from typing import Any

from ioc.realtime.events import EventType


def coalescing_key(message: dict[str, Any]) -> tuple[str, str] | None:
    """What identifies events that may be merged before commit (one device's readings)."""
    if message["type"] == EventType.DEVICE_READING and message["data"].get("device"):
        return (message["type"], str(message["data"]["device"]))
    return None


def merged_reading(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Two readings of one device as one: the later's fields win, values are merged."""
    values = {**earlier["data"].get("values", {}), **later["data"].get("values", {})}
    merged = {**later, "data": {**earlier["data"], **later["data"]}}
    if values:
        merged["data"]["values"] = values
    return merged
