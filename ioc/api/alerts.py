"""REST API for alerts: read them (scoped by ward), acknowledge, assign and resolve them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ioc import selectors
from ioc.api.actions import alert_act
from ioc.choices import AlertStatus, Severity
from ioc.models import Alert


class AlertSerializer(serializers.ModelSerializer[Alert]):
    """An alert as the dashboard and integrators read it."""

    ward = serializers.CharField(source="ward.code", read_only=True)
    device = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    acknowledged_by = serializers.SerializerMethodField()
    resolved_by = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "ward",
            "device",
            "kind",
            "cause",
            "severity",
            "status",
            "title",
            "data",
            "raised_at",
            "last_seen_at",
            "occurrences",
            "acknowledged_at",
            "acknowledged_by",
            "assignee",
            "resolved_at",
            "resolved_by",
            "auto_cleared",
            "note",
        ]

    def get_device(self, alert: Alert) -> str | None:
        return alert.device.code if alert.device else None

    def get_assignee(self, alert: Alert) -> str | None:
        return alert.assignee.get_username() if alert.assignee else None

    def get_acknowledged_by(self, alert: Alert) -> str | None:
        return alert.acknowledged_by.get_username() if alert.acknowledged_by else None

    def get_resolved_by(self, alert: Alert) -> str | None:
        return alert.resolved_by.get_username() if alert.resolved_by else None


class AlertFilterSerializer(serializers.Serializer[dict[str, Any]]):
    """The list's filters: a value it cannot use is a 400, never ignored."""

    status = serializers.ChoiceField(
        choices=["open", *AlertStatus.values], required=False, allow_blank=True
    )
    severity = serializers.ChoiceField(choices=Severity.values, required=False, allow_blank=True)
    ward = serializers.CharField(required=False, allow_blank=True, help_text="ward code")
    device = serializers.CharField(required=False, allow_blank=True, help_text="device code")


class AlertListView(generics.ListAPIView[Alert]):
    """Alerts in the caller's wards, newest first; ``status=open`` for all not resolved."""

    serializer_class = AlertSerializer

    @extend_schema(parameters=[AlertFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        queryset = selectors.alerts_visible_to(self.request.user)
        filters = AlertFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        wanted = params.get("status")
        if wanted == "open":
            queryset = queryset.exclude(status=AlertStatus.RESOLVED)
        elif wanted:
            queryset = queryset.filter(status=wanted)
        if severity := params.get("severity"):
            queryset = queryset.filter(severity=severity)
        if ward := params.get("ward"):
            queryset = queryset.filter(ward__in=selectors.wards_named(ward))
        if device := params.get("device"):
            queryset = queryset.filter(device__code=device)
        return queryset


class AlertDetailView(generics.RetrieveAPIView[Alert]):
    """One alert; 404 outside the caller's wards."""

    serializer_class = AlertSerializer

    def get_object(self) -> Alert:
        try:
            return selectors.alert_get_for_user(self.request.user, int(self.kwargs["pk"]))
        except Alert.DoesNotExist as exc:
            raise Http404("No such alert.") from exc


ACTION_BODY = inline_serializer(
    "AlertAction",
    fields={
        "note": serializers.CharField(required=False, help_text="required to resolve"),
        "assignee": serializers.CharField(required=False, help_text="username, to assign"),
    },
)


class AlertActionView(APIView):
    """POST acknowledge, assign (``assignee``, default: yourself) or resolve (``note``)."""

    @extend_schema(
        parameters=[
            # The actions alert_act knows; any other is a 404.
            OpenApiParameter(
                "action", str, OpenApiParameter.PATH, enum=["acknowledge", "assign", "resolve"]
            )
        ],
        request=ACTION_BODY,
        responses={200: AlertSerializer},
    )
    def post(self, request: Request, pk: int, action: str) -> Response:
        if not selectors.may_handle_alerts(request.user):
            raise PermissionDenied("Department staff see alerts but do not handle them.")
        try:
            alert = selectors.alert_get_for_user(request.user, int(pk))
        except Alert.DoesNotExist as exc:
            raise Http404("No such alert.") from exc
        try:
            data = request.data.dict() if hasattr(request.data, "dict") else dict(request.data)
            alert = alert_act(request.user, alert, action, data)  # type: ignore[arg-type]
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response(AlertSerializer(alert).data)
