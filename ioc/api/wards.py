"""REST API of the core: units (list and detail on a day, GeoJSON today) and the health
check."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.http import Http404, JsonResponse
from django.http.request import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ioc import geo, selectors
from ioc.models import Transfer, Ward, WardSuccession


class WardLinkSerializer(serializers.Serializer[WardSuccession]):
    """One unit a unit came from or went into, with how much and from when."""

    code = serializers.CharField()
    name = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    valid_from = serializers.DateField(allow_null=True)
    valid_to = serializers.DateField(allow_null=True)
    transfer = serializers.ChoiceField(choices=Transfer.values, help_text="whole or part")
    effective = serializers.DateField(help_text="the first day of the new units")


def _link(ward: Ward, edge: WardSuccession) -> dict[str, Any]:
    return {
        "code": ward.code,
        "name": ward.name,
        "title": ward.title,
        "kind": ward.kind,
        "valid_from": ward.valid_from,
        "valid_to": ward.valid_to,
        "transfer": edge.transfer,
        "effective": edge.effective,
    }


class WardFoundAsSerializer(serializers.Serializer[Ward]):
    """A former unit whose code or name a search (``?q=``) gave, and that went into this
    unit."""

    code = serializers.CharField()
    name = serializers.CharField()
    title = serializers.CharField()
    valid_from = serializers.DateField(allow_null=True)
    valid_to = serializers.DateField(allow_null=True)
    text = serializers.CharField(help_text="e.g. Phường Trưng Vương (cũ) → Phường Phan Đình Phùng")


class WardSerializer(serializers.ModelSerializer[Ward]):
    """A unit as integrators read it: its code names it only while it is in force
    (``valid_from`` to the day before ``valid_to``)."""

    title = serializers.CharField(read_only=True)
    has_boundary = serializers.SerializerMethodField()
    predecessors = serializers.SerializerMethodField()
    successors = serializers.SerializerMethodField()
    found_as = serializers.SerializerMethodField()

    class Meta:
        model = Ward
        fields = [
            "code",
            "name",
            "title",
            "kind",
            "province_code",
            "province_name",
            "parent_code",
            "parent_name",
            "centroid_lat",
            "centroid_lon",
            "has_boundary",
            "valid_from",
            "valid_to",
            "predecessors",
            "successors",
            "found_as",
        ]

    def get_has_boundary(self, ward: Ward) -> bool:
        return ward.boundary is not None

    @extend_schema_field(WardLinkSerializer(many=True))
    def get_predecessors(self, ward: Ward) -> list[dict[str, Any]]:
        return [_link(edge.predecessor, edge) for edge in ward.succession_from.all()]

    @extend_schema_field(WardLinkSerializer(many=True))
    def get_successors(self, ward: Ward) -> list[dict[str, Any]]:
        return [_link(edge.successor, edge) for edge in ward.succession_to.all()]

    @extend_schema_field(WardFoundAsSerializer(many=True))
    def get_found_as(self, ward: Ward) -> list[dict[str, Any]]:
        """The former units a search named that went into this one (empty otherwise)."""
        return [
            {
                "code": hit.former.code,
                "name": hit.former.name,
                "title": hit.former.title,
                "valid_from": hit.former.valid_from,
                "valid_to": hit.former.valid_to,
                "text": hit.label,
            }
            for hit in self.context.get("found", {}).get(ward.pk, [])
            if hit.former is not None
        ]


class OnDaySerializer(serializers.Serializer[dict[str, Any]]):
    """The day whose units a code names: a day that cannot be read is a 400."""

    on = serializers.DateField(
        required=False,
        input_formats=["iso-8601"],
        help_text="YYYY-MM-DD: the units in force that day (default today, Asia/Ho_Chi_Minh)",
    )

    def to_internal_value(self, data: Any) -> Any:
        # DRF reads a blank optional query parameter as absent; "?on=" names no day.
        if hasattr(data, "get") and data.get("on") == "":
            invalid = self.fields["on"].error_messages["invalid"]
            raise serializers.ValidationError({"on": [invalid.format(format="YYYY-MM-DD")]})
        return super().to_internal_value(data)


def on_day(request: Request) -> date | None:
    """The ``on`` query parameter, validated (400 otherwise)."""
    params = OnDaySerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    day: date | None = params.validated_data.get("on")
    return day


def with_links(wards: QuerySet[Ward]) -> QuerySet[Ward]:
    """Units with their predecessors and successors fetched in two queries."""
    return wards.prefetch_related(
        Prefetch("succession_from", WardSuccession.objects.select_related("predecessor")),
        Prefetch("succession_to", WardSuccession.objects.select_related("successor")),
    )


class WardSearchSerializer(OnDaySerializer):
    """The day, and what to look for: a code or part of a name, current or former."""

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=120,
        help_text=(
            "a code or part of a name, with or without Vietnamese marks; a former unit's "
            "code or name finds the units it went into (their found_as names it); blank: "
            "no search"
        ),
    )


class WardListView(generics.ListAPIView[Ward]):
    """The units in force on ``on`` (default today) that the caller may see; with ``q``,
    those a search by code or name finds, a former unit's finding its successors."""

    serializer_class = WardSerializer

    @extend_schema(parameters=[WardSearchSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def _params(self) -> dict[str, Any]:
        params = WardSearchSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return dict(params.validated_data)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "found": getattr(self, "_found", {})}

    def get_queryset(self) -> Any:
        params = self._params()
        day = params.get("on")
        wards = selectors.wards_visible_to(self.request.user, on=day)
        if params.get("q", "").strip():
            found: dict[int, list[selectors.WardFound]] = {}
            for hit in selectors.wards_found(self.request.user, params["q"], on=day):
                found.setdefault(hit.unit.pk, []).append(hit)
            self._found = found
            wards = wards.filter(pk__in=list(found))
        return with_links(wards).order_by("code")


class WardDetailView(generics.RetrieveAPIView[Ward]):
    """The unit a code names on ``on`` (default today); 404 when there is none or the
    caller may not see it."""

    serializer_class = WardSerializer

    @extend_schema(parameters=[OnDaySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_object(self) -> Ward:
        day = on_day(self.request)
        wards = with_links(selectors.wards_visible_to(self.request.user, on=day))
        try:
            return wards.get(code=self.kwargs["code"])
        except Ward.DoesNotExist as exc:
            raise Http404("No such ward.") from exc


class WardGeoJSONView(APIView):
    """The boundaries of the visible units in force today, as a GeoJSON FeatureCollection
    (longitude first); a unit without a boundary yet is left out."""

    @extend_schema(responses={200: OpenApiResponse(description="GeoJSON FeatureCollection")})
    def get(self, request: Request) -> Response:
        rows = (
            selectors.wards_visible_to(request.user)
            .filter(boundary__isnull=False)
            .values("code", "name", "kind", "boundary")
        )
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
