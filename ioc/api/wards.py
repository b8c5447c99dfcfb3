"""REST API of the core: wards (list, detail, GeoJSON) and the health check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.http import Http404, JsonResponse
from django.http.request import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ioc import geo, selectors
from ioc.models import Ward


class WardSerializer(serializers.ModelSerializer[Ward]):
    """A ward as integrators read it."""

    title = serializers.CharField(read_only=True)
    successor: serializers.SlugRelatedField[Ward] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )

    class Meta:
        model = Ward
        fields = [
            "code",
            "name",
            "title",
            "kind",
            "parent_code",
            "parent_name",
            "province_code",
            "province_name",
            "centroid_lat",
            "centroid_lon",
            "valid_from",
            "valid_to",
            "successor",
        ]


class WardListView(generics.ListAPIView[Ward]):
    """The current wards the caller may see."""

    serializer_class = WardSerializer

    def get_queryset(self) -> Any:
        return selectors.wards_visible_to(self.request.user).select_related("successor")


class WardDetailView(generics.RetrieveAPIView[Ward]):
    """One ward by code; 404 when the caller may not see it."""

    serializer_class = WardSerializer

    def get_object(self) -> Ward:
        try:
            return selectors.ward_get_for_user(self.request.user, self.kwargs["code"])
        except Ward.DoesNotExist as exc:
            raise Http404("No such ward.") from exc


class WardGeoJSONView(APIView):
    """The visible wards' boundaries as a GeoJSON FeatureCollection (longitude first)."""

    @extend_schema(responses={200: OpenApiResponse(description="GeoJSON FeatureCollection")})
    def get(self, request: Request) -> Response:
        rows = selectors.wards_visible_to(request.user).values("code", "name", "kind", "boundary")
        return Response(geo.feature_collection([ward_feature(row) for row in rows]))


def ward_feature(row: Mapping[str, Any]) -> dict[str, Any]:
    """One ward row (code, name, kind, boundary) as a GeoJSON feature."""
    ward = Ward(code=row["code"], name=row["name"], kind=row["kind"])
    return geo.feature(
        row["boundary"],
        {"code": row["code"], "name": row["name"], "kind": row["kind"], "title": ward.title},
        feature_id=row["code"],
    )


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for the process manager and the load balancer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:  # any database failure makes the process not ready
        database = "unavailable"
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "degraded", "database": database}, status=status
    )
