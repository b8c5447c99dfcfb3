"""REST API of the device registry: the map's GeoJSON (DESIGN.md contract)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cameras.choices import DeviceKind, DeviceStatus
from cameras.selectors import devices_visible_to
from ioc import geo


def _bad_request(message: str) -> Response:
    return Response({"detail": message}, status=400)


class DeviceGeoJSONView(APIView):
    """Devices the caller may see, as a GeoJSON FeatureCollection (longitude first)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("bbox", OpenApiTypes.STR, description="minLon,minLat,maxLon,maxLat"),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=DeviceKind.values),
            OpenApiParameter("status", OpenApiTypes.STR, enum=DeviceStatus.values),
            OpenApiParameter("ward", OpenApiTypes.STR, description="ward code"),
        ],
        responses={200: OpenApiResponse(description="GeoJSON FeatureCollection")},
    )
    def get(self, request: Request) -> Response:
        queryset = devices_visible_to(request.user)
        params = request.query_params
        if bbox_text := params.get("bbox"):
            try:
                box = geo.parse_bbox(bbox_text)
            except geo.GeometryError as exc:
                return _bad_request(str(exc))
            queryset = queryset.filter(
                longitude__gte=box.min_lon,
                longitude__lte=box.max_lon,
                latitude__gte=box.min_lat,
                latitude__lte=box.max_lat,
            )
        for name, allowed in (("kind", DeviceKind.values), ("status", DeviceStatus.values)):
            if value := params.get(name):
                if value not in allowed:
                    return _bad_request(f"{name} must be one of: {', '.join(allowed)}.")
                queryset = queryset.filter(**{name: value})
        if ward := params.get("ward"):
            queryset = queryset.filter(ward__code=ward)
        rows = queryset.values(
            "code", "name", "kind", "status", "latitude", "longitude", "last_seen_at", "ward__code"
        )
        return Response(geo.feature_collection([device_feature(row) for row in rows]))


def device_feature(row: Mapping[str, Any]) -> dict[str, Any]:
    """One device row as a GeoJSON feature with the contract's properties."""
    return geo.feature(
        geo.point(row["longitude"], row["latitude"]),
        {
            "code": row["code"],
            "name": row["name"],
            "kind": row["kind"],
            "status": row["status"],
            "ward": row["ward__code"],
            "last_seen_at": row["last_seen_at"].isoformat() if row["last_seen_at"] else None,
        },
        feature_id=row["code"],
    )
