"""REST API of the operations screens (under /api/v1/)."""

from __future__ import annotations

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboards.selectors import kpis_for
from ioc import selectors
from ioc.api.wards import on_day
from ioc.models import Ward
from ioc.permissions import IsStaffRole

_COUNTS_BY_KIND = inline_serializer(
    name="DeviceKindKpi",
    fields={
        "total": serializers.IntegerField(),
        "online": serializers.IntegerField(),
        "online_pct": serializers.FloatField(),
    },
)

KPIS_SCHEMA = inline_serializer(
    name="Kpis",
    fields={
        "at": serializers.DateTimeField(),
        "devices": serializers.DictField(
            child=_COUNTS_BY_KIND, help_text="By device kind: camera, sensor, signal."
        ),
        "alerts": inline_serializer(
            name="OpenAlertsBySeverity",
            fields={
                "critical": serializers.IntegerField(),
                "warning": serializers.IntegerField(),
                "info": serializers.IntegerField(),
            },
        ),
        "alerts_open": serializers.IntegerField(),
        "incidents": inline_serializer(
            name="OpenIncidentsBySeverity",
            fields={
                "critical": serializers.IntegerField(),
                "warning": serializers.IntegerField(),
                "info": serializers.IntegerField(),
            },
        ),
        "incidents_open": serializers.IntegerField(),
    },
)


class KpisView(APIView):
    """Device availability, open alerts and open incidents in the caller's wards (or in one
    of them, ``?ward=<code>``, the unit the code names today or ``?on=YYYY-MM-DD``), for
    pages without the websocket and for integrators (the snapshot carries the same
    figures)."""

    permission_classes = [IsStaffRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("ward", str, description="one ward's code"),
            OpenApiParameter(
                "on",
                OpenApiTypes.DATE,
                description="YYYY-MM-DD: the day whose unit `ward` names (default today)",
            ),
        ],
        responses={
            200: KPIS_SCHEMA,
            404: OpenApiResponse(description="no such ward visible to the caller"),
        },
    )
    def get(self, request: Request) -> Response:
        ward = None
        on = on_day(request)
        if code := request.query_params.get("ward", ""):
            try:
                ward = selectors.ward_get_for_user(request.user, code[:16], on=on)
            except Ward.DoesNotExist as exc:
                raise Http404("No such ward.") from exc
        return Response({"at": timezone.now(), **kpis_for(request.user, ward=ward)})
