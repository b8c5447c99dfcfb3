"""REST API of the device registry: the map's GeoJSON (DESIGN.md contract), the device
list and detail (administrators write through services). A device's readings series and
events are in ``cameras.reading_api``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics
from rest_framework import serializers as drf_serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cameras import map_selectors
from cameras.choices import DeviceKind, DeviceStatus
from cameras.map_selectors import GRID_COLUMNS_DEFAULT, GRID_COLUMNS_MAX, MAP_FIELDS
from cameras.models import Device
from cameras.selectors import (
    device_filters_parse,
    device_with_details_for_user,
    devices_filtered,
)
from cameras.serializers import (
    DeviceDetailSerializer,
    DeviceSerializer,
    DeviceWriteSerializer,
)
from cameras.services.devices import device_create, device_delete, device_update
from ioc.models import User
from ioc.permissions import IsAdminRole


def _bad_request(message: str) -> Response:
    return Response({"detail": message}, status=400)


def _one_or_more(name: str, values: list[str]) -> OpenApiParameter:
    """A map filter: one value, or several separated by commas (the map's layer toggles)."""
    choice = "|".join(values)
    return OpenApiParameter(
        name,
        {"type": "string", "pattern": rf"^[\s,]*(?:(?:{choice})[\s,]*)*$"},
        description=f"one or more of {', '.join(values)}, separated by commas",
    )


MAP_FILTER_PARAMETERS = [
    OpenApiParameter("bbox", OpenApiTypes.STR, description="minLon,minLat,maxLon,maxLat"),
    _one_or_more("kind", DeviceKind.values),
    _one_or_more("status", DeviceStatus.values),
    OpenApiParameter("ward", OpenApiTypes.STR, description="ward code"),
]


def _json(data: Any) -> HttpResponse:
    """A JSON answer encoded by orjson (datetimes as ISO 8601): the large read paths."""
    return HttpResponse(orjson.dumps(data), content_type="application/json")


def _map_query(request: Request) -> map_selectors.MapQuery:
    """The map filters of a request; a 400 with the reason when one is malformed."""
    try:
        return map_selectors.map_query_parse(request.query_params)
    except map_selectors.MapQueryError as exc:
        raise BadParameter(str(exc)) from exc


# One GeoJSON feature; %b are orjson-encoded values, %r the float coordinates.
FEATURE = (
    b'{"type":"Feature","id":%b,"geometry":{"type":"Point","coordinates":[%r,%r]},'
    b'"properties":{"code":%b,"name":%b,"kind":%b,"status":%b,"ward":%b,"last_seen_at":%b}}'
)


def features_from_rows(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """GeoJSON features from ``MAP_FIELDS`` rows, joined with commas.

    Written as bytes, each text value encoded by orjson: for 50,000 devices about twice as
    fast as building the dicts and encoding them. Coordinates are stored with 6 decimals, so
    repr() of their floats is exact JSON."""
    dumps = orjson.dumps
    return b",".join(
        FEATURE
        % (
            dumps(code),
            lon,
            lat,
            dumps(code),
            dumps(name),
            dumps(kind),
            dumps(status),
            dumps(ward),
            dumps(last_seen_at),
        )
        for code, name, kind, status, ward, lat, lon, last_seen_at in rows
    )


class DeviceGeoJSONView(APIView):
    """Devices the caller may see, as a GeoJSON FeatureCollection (longitude first).

    One query and no model instance: on PostgreSQL the database writes each feature
    (``map_selectors.device_features``), elsewhere ``features_from_rows`` does.
    """

    @extend_schema(
        parameters=MAP_FILTER_PARAMETERS,
        responses={200: OpenApiResponse(description="GeoJSON FeatureCollection")},
    )
    def get(self, request: Request) -> HttpResponse:
        query = _map_query(request)
        features = map_selectors.device_features(request.user, query)
        if features is None:
            features = features_from_rows(map_selectors.device_map_rows(request.user, query))
        return HttpResponse(
            b'{"type":"FeatureCollection","features":[' + features + b"]}",
            content_type="application/json",
        )


DEVICE_MAP_SCHEMA = inline_serializer(
    name="DeviceMap",
    fields={
        "mode": drf_serializers.ChoiceField(
            choices=["points", "grid"],
            help_text="points: every matching device; grid: too many for the view, counts "
            "per cell instead.",
        ),
        "total": drf_serializers.IntegerField(help_text="devices matching the filters"),
        "fields": drf_serializers.ListField(
            child=drf_serializers.CharField(),
            help_text="points: the order of each device array: " + ", ".join(MAP_FIELDS),
        ),
        "devices": drf_serializers.ListField(
            child=drf_serializers.ListField(), required=False, help_text="points only"
        ),
        "cell_degrees": drf_serializers.FloatField(required=False, help_text="grid only"),
        "cells": inline_serializer(
            name="DeviceMapCell",
            many=True,
            required=False,
            fields={
                "lat": drf_serializers.FloatField(),
                "lon": drf_serializers.FloatField(),
                "count": drf_serializers.IntegerField(),
                "status": drf_serializers.DictField(child=drf_serializers.IntegerField()),
                "bounds": drf_serializers.ListField(child=drf_serializers.FloatField()),
            },
        ),
    },
)


class DeviceMapView(APIView):
    """The live map's compact view of an area: every matching device as an array when
    there are at most ``IOC_MAP_POINT_LIMIT``, else counts by status per grid cell."""

    @extend_schema(
        parameters=[
            *MAP_FILTER_PARAMETERS,
            OpenApiParameter(
                "grid",
                {"type": "integer", "minimum": 1, "maximum": GRID_COLUMNS_MAX},
                description="grid cells across the box when aggregating "
                f"(default {GRID_COLUMNS_DEFAULT}, at most {GRID_COLUMNS_MAX})",
            ),
        ],
        responses={200: DEVICE_MAP_SCHEMA},
    )
    def get(self, request: Request) -> HttpResponse:
        query = _map_query(request)
        try:
            columns = int(request.query_params.get("grid") or GRID_COLUMNS_DEFAULT)
        except ValueError as exc:
            raise BadParameter(
                f"grid must be a whole number from 1 to {GRID_COLUMNS_MAX}."
            ) from exc
        if not 1 <= columns <= GRID_COLUMNS_MAX:
            raise BadParameter(f"grid must be a whole number from 1 to {GRID_COLUMNS_MAX}.")
        user = request.user
        total = map_selectors.device_map_count(user, query)
        if total > settings.IOC_MAP_POINT_LIMIT:
            grid = map_selectors.device_grid(user, query, columns=columns)
            return _json({"mode": "grid", "total": total, "fields": [], **grid})
        rows = list(map_selectors.device_map_rows(user, query))
        return _json({"mode": "points", "total": total, "fields": MAP_FIELDS, "devices": rows})


class DeviceSearchView(APIView):
    """Find a visible device by code or name (the map's search box): at most 20, the exact
    code first, as MAP_FIELDS arrays."""

    @extend_schema(
        parameters=[
            # Some text besides spaces: a blank search is refused (400).
            OpenApiParameter("q", {"type": "string", "pattern": r"\S"}, required=True)
        ],
        responses={
            200: inline_serializer(
                name="DeviceSearch",
                fields={
                    "fields": drf_serializers.ListField(child=drf_serializers.CharField()),
                    "devices": drf_serializers.ListField(child=drf_serializers.ListField()),
                },
            )
        },
    )
    def get(self, request: Request) -> HttpResponse:
        text = request.query_params.get("q", "")
        if not text.strip():
            raise BadParameter("q is required: part of a device's code or name.")
        rows = map_selectors.device_search(request.user, text)
        return _json({"fields": MAP_FIELDS, "devices": rows})


# --- Device registry: list, detail, writes (readings and events: cameras.reading_api) -------


class BadParameter(ValidationError):
    """A query parameter the endpoint cannot use: 400 ``{"detail": "..."}``."""

    def __init__(self, message: str) -> None:
        super().__init__({"detail": message})


def device_or_404(request: Request, code: str) -> Device:
    """A device the caller may see, with its details; 404 for anything else."""
    try:
        return device_with_details_for_user(request.user, code)
    except Device.DoesNotExist as exc:
        raise Http404("No such device.") from exc


def _validation_response(exc: DjangoValidationError) -> Response:
    """A model or service validation error as a 400 answer, field by field."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
    return Response(errors, status=400)


DEVICE_FILTER_PARAMETERS = [
    OpenApiParameter("q", OpenApiTypes.STR, description="part of the code or name"),
    OpenApiParameter("ward", OpenApiTypes.STR, description="ward code"),
    OpenApiParameter("kind", OpenApiTypes.STR, enum=DeviceKind.values),
    OpenApiParameter("status", OpenApiTypes.STR, enum=DeviceStatus.values),
]


class DeviceListView(generics.ListAPIView[Device]):
    """Devices the caller may see, filtered and paginated; administrators add devices."""

    serializer_class = DeviceSerializer

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            return [IsAdminRole()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[Device]:
        filters, errors = device_filters_parse(self.request.query_params)
        if errors:
            raise BadParameter(" ".join(errors.values()))
        return devices_filtered(self.request.user, filters)

    @extend_schema(parameters=DEVICE_FILTER_PARAMETERS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=DeviceWriteSerializer, responses={201: DeviceDetailSerializer})
    def post(self, request: Request) -> Response:
        """Register a device; its ward is the one containing its point (administrators)."""
        serializer = DeviceWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values, ward = serializer.values()
        assert isinstance(request.user, User)
        try:
            device = device_create(
                actor=request.user,
                code=serializer.validated_data["code"],
                values=values,
                ward_code=ward,
            )
        except DjangoValidationError as exc:
            return _validation_response(exc)
        fresh = device_or_404(request, device.code)
        return Response(DeviceDetailSerializer(fresh).data, status=201)


class DeviceDetailView(generics.RetrieveAPIView[Device]):
    """One device by code with its details; administrators change or remove it.

    A device outside the caller's wards answers 404, as one that does not exist.
    """

    serializer_class = DeviceDetailSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_permissions(self) -> Any:
        if self.request.method in ("PATCH", "DELETE"):
            return [IsAdminRole()]
        return super().get_permissions()

    def get_object(self) -> Device:
        return device_or_404(self.request, self.kwargs["code"])

    @extend_schema(request=DeviceWriteSerializer, responses={200: DeviceDetailSerializer})
    def patch(self, request: Request, code: str) -> Response:
        """Change registry fields; a new point moves the device to the ward containing it."""
        device = self.get_object()
        serializer = DeviceWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data.get("code", device.code) != device.code:
            return Response({"code": ["A device's code cannot change."]}, status=400)
        values, ward = serializer.values()
        assert isinstance(request.user, User)
        try:
            device_update(actor=request.user, device=device, values=values, ward_code=ward)
        except DjangoValidationError as exc:
            return _validation_response(exc)
        return Response(DeviceDetailSerializer(device_or_404(request, code)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, code: str) -> Response:
        """Remove a device and its history from the registry (audited)."""
        device = self.get_object()
        assert isinstance(request.user, User)
        device_delete(actor=request.user, device=device)
        return Response(status=204)
