"""REST API of the operations screens (under /api/v1/)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboards.selectors import kpis_for
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
    },
)


class KpisView(APIView):
    """Device availability and open alerts in the caller's wards, for pages without the
    websocket (the snapshot carries the same figures)."""

    permission_classes = [IsStaffRole]

    @extend_schema(responses={200: KPIS_SCHEMA})
    def get(self, request: Request) -> Response:
        return Response({"at": timezone.now(), **kpis_for(request.user)})
