"""REST API for incidents: read them (scoped by ward), open them, and work them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ioc import selectors
from ioc.api.actions import alert_by_id, incident_act
from ioc.api.alerts import AlertSerializer
from ioc.choices import IncidentStatus, Severity
from ioc.models import Incident, IncidentChecklistItem, IncidentEntry, IncidentType, User
from ioc.services import incidents as incident_services


def _username(user: User | None) -> str | None:
    return user.get_username() if user else None


class ChecklistItemSerializer(serializers.ModelSerializer[IncidentChecklistItem]):
    """One step of the checklist."""

    done_by = serializers.SerializerMethodField()

    class Meta:
        model = IncidentChecklistItem
        fields = ["id", "position", "text", "done_at", "done_by"]

    def get_done_by(self, item: IncidentChecklistItem) -> str | None:
        return _username(item.done_by)


class TimelineEntrySerializer(serializers.ModelSerializer[IncidentEntry]):
    """One line of the timeline."""

    actor = serializers.SerializerMethodField()

    class Meta:
        model = IncidentEntry
        fields = ["at", "actor", "kind", "text", "data"]

    def get_actor(self, entry: IncidentEntry) -> str | None:
        return _username(entry.actor)


class IncidentSerializer(serializers.ModelSerializer[Incident]):
    """An incident as integrators read it in lists."""

    reference = serializers.CharField(read_only=True)
    type = serializers.CharField(source="incident_type.code", read_only=True)
    ward = serializers.CharField(source="ward.code", read_only=True)
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "reference",
            "type",
            "title",
            "description",
            "severity",
            "status",
            "ward",
            "latitude",
            "longitude",
            "address",
            "assignee",
            "created_at",
            "updated_at",
            "resolved_at",
            "closed_at",
        ]

    def get_assignee(self, incident: Incident) -> str | None:
        return _username(incident.assignee)


class IncidentDetailSerializer(IncidentSerializer):
    """One incident with its checklist, timeline and the linked alerts the caller may see."""

    checklist = ChecklistItemSerializer(many=True, read_only=True)
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    alerts = serializers.SerializerMethodField()

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "checklist", "timeline", "alerts"]

    @extend_schema(responses=AlertSerializer(many=True))
    def get_alerts(self, incident: Incident) -> list[dict[str, Any]]:
        user = self.context["request"].user
        return list(AlertSerializer(selectors.incident_alerts_for(user, incident), many=True).data)


class IncidentCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """What opening an incident takes."""

    type = serializers.SlugRelatedField(
        slug_field="code", queryset=IncidentType.objects.filter(is_active=True)
    )
    title = serializers.CharField(max_length=200)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6)
    longitude = serializers.DecimalField(max_digits=10, decimal_places=6)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, default="")
    description = serializers.CharField(required=False, default="", allow_blank=True)
    address = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)
    alerts = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)


class IncidentFilterSerializer(serializers.Serializer[dict[str, Any]]):
    """The list's filters: a value it cannot use is a 400, never ignored."""

    status = serializers.ChoiceField(
        choices=["active", *IncidentStatus.values], required=False, allow_blank=True
    )
    severity = serializers.ChoiceField(choices=Severity.values, required=False, allow_blank=True)
    ward = serializers.CharField(required=False, allow_blank=True, help_text="ward code")
    type = serializers.CharField(required=False, allow_blank=True, help_text="incident type code")


def _may_handle(user: Any) -> None:
    if not selectors.may_handle_incidents(user):
        raise PermissionDenied("Department staff see incidents but do not handle them.")


class IncidentListView(generics.ListCreateAPIView[Incident]):
    """Incidents in the caller's wards, newest first (``status=active`` for open and in
    progress); POST opens one at a place (its ward is found from the place)."""

    serializer_class = IncidentSerializer

    @extend_schema(parameters=[IncidentFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        incidents = selectors.incidents_visible_to(self.request.user)
        filters = IncidentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        wanted = params.get("status")
        if wanted == "active":
            incidents = incidents.filter(
                status__in=[IncidentStatus.OPEN, IncidentStatus.IN_PROGRESS]
            )
        elif wanted:
            incidents = incidents.filter(status=wanted)
        if ward := params.get("ward"):
            incidents = incidents.filter(ward__in=selectors.wards_named(ward))
        for param, field in (("severity", "severity"), ("type", "incident_type__code")):
            if value := params.get(param):
                incidents = incidents.filter(**{field: value})
        return incidents

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentDetailSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _may_handle(request.user)
        body = IncidentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        alerts = [alert_by_id(request.user, alert_id) for alert_id in data["alerts"]]  # type: ignore[arg-type]
        try:
            incident = incident_services.incident_create(
                actor=request.user,  # type: ignore[arg-type]
                incident_type=data["type"],
                title=data["title"],
                latitude=data["latitude"],
                longitude=data["longitude"],
                severity=data["severity"],
                description=data["description"],
                address=data["address"],
                alerts=alerts,
            )
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        incident = selectors.incident_with_details_for_user(request.user, incident.pk)
        body_out = IncidentDetailSerializer(incident, context={"request": request})
        return Response(body_out.data, status=status.HTTP_201_CREATED)


class IncidentDetailView(generics.RetrieveAPIView[Incident]):
    """One incident with checklist, timeline and linked alerts; 404 outside the caller's wards."""

    serializer_class = IncidentDetailSerializer

    def get_object(self) -> Incident:
        try:
            return selectors.incident_with_details_for_user(
                self.request.user, int(self.kwargs["pk"])
            )
        except Incident.DoesNotExist as exc:
            raise Http404("No such incident.") from exc


ACTION_BODY = inline_serializer(
    "IncidentAction",
    fields={
        "status": serializers.ChoiceField(choices=IncidentStatus.choices, required=False),
        "note": serializers.CharField(required=False, help_text="required to resolve or reopen"),
        "assignee": serializers.CharField(required=False, help_text="username (default: you)"),
        "severity": serializers.ChoiceField(choices=Severity.choices, required=False),
        "text": serializers.CharField(required=False, help_text="the note, for action note"),
        "item": serializers.IntegerField(required=False, help_text="checklist step id"),
        "done": serializers.BooleanField(required=False),
        "alert": serializers.IntegerField(required=False, help_text="alert id to link/unlink"),
    },
)


class IncidentActionView(APIView):
    """POST status, assign, severity, note, checklist, link or unlink."""

    @extend_schema(
        operation_id="incident_action",
        parameters=[
            # The actions incident_act knows; any other is a 404.
            OpenApiParameter(
                "action",
                str,
                OpenApiParameter.PATH,
                enum=["status", "assign", "severity", "note", "checklist", "link", "unlink"],
            )
        ],
        request=ACTION_BODY,
        responses={200: IncidentDetailSerializer},
    )
    def post(self, request: Request, pk: int, action: str) -> Response:
        _may_handle(request.user)
        try:
            incident = selectors.incident_get_for_user(request.user, int(pk))
        except Incident.DoesNotExist as exc:
            raise Http404("No such incident.") from exc
        data = request.data.dict() if hasattr(request.data, "dict") else dict(request.data)
        try:
            incident_act(request.user, incident, action, data)  # type: ignore[arg-type]
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        incident = selectors.incident_with_details_for_user(request.user, incident.pk)
        return Response(IncidentDetailSerializer(incident, context={"request": request}).data)
