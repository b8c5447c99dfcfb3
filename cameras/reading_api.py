"""REST API of a device's history: a metric's readings, downsampled in the database for
charts, and the events as the device sent them. Split from ``cameras.api`` (past 450
lines, STYLE.md); the device is looked up there, scoped to the caller."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics
from rest_framework import serializers as drf_serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cameras.api import BadParameter, device_or_404
from cameras.choices import EventType
from cameras.models import Device, DeviceEvent
from cameras.reading_selectors import reading_series
from cameras.selectors import device_events_for, device_get_for_user, device_metrics
from cameras.serializers import DeviceEventSerializer

MAX_POINTS = 2000
DEFAULT_POINTS = 200
DEFAULT_SERIES_RANGE = timedelta(hours=24)
MAX_SERIES_RANGE = timedelta(days=366)
# "+07:00" arrives as " 07:00" when a client leaves the plus sign of a query unencoded.
_UNENCODED_OFFSET = re.compile(r"(.*\d)\s(\d{2}(?::?\d{2})?)")


def parse_time(name: str, text: str) -> datetime:
    """An ISO 8601 time with a UTC offset (or Z) from a query parameter."""
    text = text.strip()
    if match := _UNENCODED_OFFSET.fullmatch(text):
        text = f"{match[1]}+{match[2]}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadParameter(
            f"{name} must be an ISO 8601 time with an offset, e.g. 2026-01-31T08:00:00+07:00."
        ) from exc
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadParameter(f"{name} needs a UTC offset, e.g. 2026-01-31T08:00:00+07:00.")
    return value


def parse_range(params: Mapping[str, str], *, default: timedelta | None) -> tuple[Any, Any]:
    """The ``from``/``to`` times of a query; with ``default``, the range ending now."""
    start = parse_time("from", params["from"]) if params.get("from") else None
    end = parse_time("to", params["to"]) if params.get("to") else None
    if default is not None:
        end = end or timezone.now()
        start = start or end - default
    if start is not None and end is not None and start >= end:
        raise BadParameter("from must be before to.")
    return start, end


def _local_iso(moment: datetime) -> str:
    """A time as ISO 8601 with the city's offset."""
    return timezone.localtime(moment).isoformat()


READING_SERIES_SCHEMA = inline_serializer(
    name="ReadingSeries",
    fields={
        "device": drf_serializers.CharField(),
        "metric": drf_serializers.CharField(),
        "unit": drf_serializers.CharField(),
        "low": drf_serializers.FloatField(allow_null=True),
        "high": drf_serializers.FloatField(allow_null=True),
        "from": drf_serializers.DateTimeField(),
        "to": drf_serializers.DateTimeField(),
        "points": drf_serializers.IntegerField(),
        "bucket_seconds": drf_serializers.FloatField(),
        "buckets": inline_serializer(
            name="ReadingBucket",
            many=True,
            fields={
                "start": drf_serializers.DateTimeField(),
                "avg": drf_serializers.FloatField(),
                "min": drf_serializers.FloatField(),
                "max": drf_serializers.FloatField(),
                "count": drf_serializers.IntegerField(),
            },
        ),
    },
)


class DeviceReadingsView(APIView):
    """A metric's readings of one device, downsampled in the database for charts."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "metric",
                {"type": "string", "pattern": r"\S"},
                required=True,
                description="pm25, ...",
            ),
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="default: to - 24 h"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="default: now"),
            OpenApiParameter(
                "points",
                {"type": "integer", "minimum": 1, "maximum": MAX_POINTS},
                description=f"buckets, 1-{MAX_POINTS} (200)",
            ),
        ],
        responses={200: READING_SERIES_SCHEMA},
    )
    def get(self, request: Request, code: str) -> Response:
        device = device_or_404(request, code)
        params = request.query_params
        metric = params.get("metric", "").strip()
        if not metric:
            known = ", ".join(device_metrics(device)) or "none yet"
            raise BadParameter(f"metric is required (this device reports: {known}).")
        start, end = parse_range(params, default=DEFAULT_SERIES_RANGE)
        if end - start > MAX_SERIES_RANGE:
            raise BadParameter("from and to may be 366 days apart at most.")
        try:
            points = int(params.get("points") or DEFAULT_POINTS)
        except ValueError as exc:
            raise BadParameter(f"points must be a whole number from 1 to {MAX_POINTS}.") from exc
        if not 1 <= points <= MAX_POINTS:
            raise BadParameter(f"points must be a whole number from 1 to {MAX_POINTS}.")
        series = reading_series(device, metric=metric, start=start, end=end, points=points)
        threshold = next((t for t in device.thresholds.all() if t.metric == metric), None)
        return Response(
            {
                "device": device.code,
                "metric": metric,
                "unit": threshold.unit if threshold else "",
                "low": threshold.low if threshold else None,
                "high": threshold.high if threshold else None,
                # The grid the buckets are on: the one asked, or aligned on whole minutes
                # or hours where rollups serve the range (reading_series).
                "from": _local_iso(series.start),
                "to": _local_iso(series.end),
                "points": series.points,
                "bucket_seconds": series.bucket_seconds,
                "buckets": [
                    {
                        "start": _local_iso(b.start),
                        "avg": b.avg,
                        "min": b.min,
                        "max": b.max,
                        "count": b.count,
                    }
                    for b in series.buckets
                ],
            }
        )


class DeviceEventsView(generics.ListAPIView[DeviceEvent]):
    """One device's events as it sent them, newest first, paginated. A reading of numbers
    only is stored as its values: the readings API serves it (``/readings/``); readings
    with other data besides, and every other type, are here."""

    serializer_class = DeviceEventSerializer

    def get_queryset(self) -> QuerySet[DeviceEvent]:
        try:
            device = device_get_for_user(self.request.user, self.kwargs["code"])
        except Device.DoesNotExist as exc:
            raise Http404("No such device.") from exc
        params = self.request.query_params
        event_type = params.get("type", "").strip()
        if event_type and event_type not in EventType.values:
            raise BadParameter(f"type must be one of: {', '.join(EventType.values)}.")
        start, end = parse_range(params, default=None)
        return device_events_for(device, event_type=event_type, start=start, end=end)

    @extend_schema(
        parameters=[
            OpenApiParameter("type", OpenApiTypes.STR, enum=EventType.values),
            OpenApiParameter("from", OpenApiTypes.DATETIME),
            OpenApiParameter("to", OpenApiTypes.DATETIME),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
