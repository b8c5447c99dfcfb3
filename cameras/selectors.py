"""Reads of the device registry, scoped by ward through ioc.selectors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Q, QuerySet

from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device, Gateway
from cameras.services.ingest import Principal
from cameras.services.registry import token_hash
from ioc.selectors import AnyUser, scope_by_ward


def devices_visible_to(user: AnyUser) -> QuerySet[Device]:
    """Every device ``user`` may see."""
    return scope_by_ward(Device.objects.select_related("ward"), user)


def device_get_for_user(user: AnyUser, code: str) -> Device:
    """One device by code if visible to ``user``; Device.DoesNotExist otherwise (404)."""
    return devices_visible_to(user).get(code=code)


def device_counts_by_ward(user: AnyUser) -> dict[int, dict[str, Any]]:
    """Per visible ward id: device totals by kind and how many of them are online."""
    rows = (
        scope_by_ward(Device.objects.all(), user)
        .values("ward_id")
        .annotate(
            total=Count("id"),
            online=Count("id", filter=Q(status=DeviceStatus.ONLINE)),
            cameras=Count("id", filter=Q(kind=DeviceKind.CAMERA)),
            sensors=Count("id", filter=Q(kind=DeviceKind.SENSOR)),
            signals=Count("id", filter=Q(kind=DeviceKind.SIGNAL)),
        )
    )
    return {row["ward_id"]: row for row in rows}


def device_map_features(user: AnyUser, *, ward_code: str | None = None) -> list[Mapping[str, Any]]:
    """Visible devices as plain dicts for a GeoJSON map layer (one query, no models)."""
    queryset = devices_visible_to(user)
    if ward_code:
        queryset = queryset.filter(ward__code=ward_code)
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
    hashed = token_hash(token)
    if scheme == "Device":
        row = Device.objects.filter(token_hash=hashed).values("pk", "code").first()
        return Principal("device", row["code"], row["pk"]) if row else None
    if scheme == "Gateway":
        row = Gateway.objects.filter(token_hash=hashed, is_active=True).values("pk", "code").first()
        return Principal("gateway", row["code"], row["pk"]) if row else None
    return None
