"""Traffic-signal commands over HTTP: the REST endpoint and the operators' HTML form.

Both look the device up through ``cameras.selectors.device_get_for_user`` (another ward's
signal is a 404, never a 403) and write through ``cameras.services.signal_commands``.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cameras.choices import CommandStatus, SignalAction
from cameras.models import Device, SignalCommand, SignalDetail
from cameras.selectors import device_get_for_user
from cameras.services.signal_commands import (
    DEFAULT_DURATION_MINUTES,
    LIVE_STATUSES,
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
    signal_command_allowed,
    signal_command_create,
)
from ioc.access import local_next, staff_required
from ioc.models import User
from ioc.selectors import AnyUser

# --- Reads (selectors of this feature; cameras/selectors.py is another change's file) -------


def signal_commands_of(device: Device) -> QuerySet[SignalCommand]:
    """A device's commands, newest first, with what the API shows of each."""
    return (
        SignalCommand.objects.filter(device=device)
        .select_related("device", "requested_by")
        .order_by("-requested_at", "-pk")
    )


def signal_command_live(device: Device) -> SignalCommand | None:
    """The command in force (or on its way) at an intersection, if any."""
    return signal_commands_of(device).filter(status__in=LIVE_STATUSES).first()


def signal_form_context(user: AnyUser, device: Device) -> dict[str, Any]:
    """What ``cameras/signal_command_form.html`` needs, for the page that includes it."""
    return {
        "device": device,
        "signal": SignalDetail.objects.filter(device=device).first(),
        "live_command": signal_command_live(device),
        "can_command": signal_command_allowed(user, device),
    }


def _visible_device(user: AnyUser, code: str) -> Device:
    """The device if ``user`` may see it; 404 otherwise (no existence leak)."""
    try:
        return device_get_for_user(user, code)
    except Device.DoesNotExist as exc:
        raise Http404(_("No such device.")) from exc


# --- REST API -------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "enum": list(CommandStatus.values), "readOnly": True})
class CommandStatusField(serializers.CharField):
    """A command's status. Described inline: other serializers' "status" enums (devices,
    alerts) would otherwise collide with this one's component name in the schema."""


class SignalCommandSerializer(serializers.ModelSerializer[SignalCommand]):
    """A traffic-signal command as the API shows it."""

    status = CommandStatusField(read_only=True)
    device: serializers.SlugRelatedField[Device] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = SignalCommand
        fields = [
            "id",
            "device",
            "action",
            "plan",
            "reason",
            "status",
            "error",
            "requested_by",
            "requested_at",
            "expires_at",
            "sent_at",
            "acknowledged_at",
            "ended_at",
            "readback",
        ]
        read_only_fields = fields


class SignalCommandRequestSerializer(serializers.Serializer[Any]):
    """A new command: the service checks what depends on the action and the signal."""

    action = serializers.ChoiceField(choices=SignalAction.choices)
    plan = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=2000, allow_blank=True)
    duration_minutes = serializers.IntegerField(
        min_value=MIN_DURATION_MINUTES,
        max_value=MAX_DURATION_MINUTES,
        required=False,
        default=DEFAULT_DURATION_MINUTES,
        help_text=gettext_lazy("How long an override lasts before it reverts by itself."),
    )


class DeviceCommandsView(generics.ListCreateAPIView[SignalCommand]):
    """A traffic signal's commands: list them, or send a new one."""

    serializer_class = SignalCommandSerializer

    def device(self) -> Device:
        """The device named in the URL, if the caller may see it."""
        return _visible_device(self.request.user, self.kwargs["code"])

    def get_queryset(self) -> QuerySet[SignalCommand]:
        return signal_commands_of(self.device())

    @extend_schema(
        operation_id="device_commands_list",
        summary="A device's traffic-signal commands, newest first",
        responses={200: SignalCommandSerializer(many=True), 404: OpenApiResponse()},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="device_command_create",
        summary="Command a traffic signal (override or back to automatic)",
        request=SignalCommandRequestSerializer,
        responses={
            201: SignalCommandSerializer,
            400: OpenApiResponse(description="invalid, or an override is already live"),
            403: OpenApiResponse(description="this account may not command this signal"),
            404: OpenApiResponse(description="no such device visible to this account"),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        device = self.device()
        incoming = SignalCommandRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            command = signal_command_create(
                actor=cast(User, request.user),  # IsStaffRole let only staff accounts in
                device=device,
                action=incoming.validated_data["action"],
                plan=incoming.validated_data["plan"],
                reason=incoming.validated_data["reason"],
                duration_minutes=incoming.validated_data["duration_minutes"],
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        # Delivery may already have happened after commit (embedded mode): show the news.
        command = signal_commands_of(device).get(pk=command.pk)
        return Response(SignalCommandSerializer(command).data, status=201)


# --- The operators' form --------------------------------------------------------------------


class SignalCommandForm(forms.Form):
    """The fields of ``cameras/signal_command_form.html``."""

    action = forms.ChoiceField(choices=SignalAction.choices)
    plan = forms.CharField(required=False, max_length=32)
    reason = forms.CharField(required=False, max_length=2000)
    duration_minutes = forms.IntegerField(required=False)
    confirm = forms.BooleanField(
        error_messages={"required": gettext_lazy("Tick “I confirm” to send the command.")}
    )


def _back(request: HttpRequest, device: Device) -> str:
    """Where to go after the form: its ``next`` field if local, else the device page."""
    return local_next(request, f"/ops/devices/{quote(device.code)}/")


def _outcome(command: SignalCommand) -> tuple[int, str]:
    """The message level and text that tell the operator what became of a command."""
    intersection = getattr(command.device, "signal", None) or command.device.name
    if command.status == CommandStatus.FAILED:
        return messages.ERROR, _("%(intersection)s did not take the command: %(error)s") % {
            "intersection": intersection,
            "error": command.error,
        }
    if command.status == CommandStatus.ACTIVE and command.expires_at is not None:
        until = formats.date_format(timezone.localtime(command.expires_at), "SHORT_DATETIME_FORMAT")
        return messages.SUCCESS, _("%(intersection)s: %(action)s until %(until)s.") % {
            "intersection": intersection,
            "action": command.get_action_display(),
            "until": until,
        }
    if command.status == CommandStatus.REVERTED:
        return messages.SUCCESS, _("%(intersection)s is back on automatic.") % {
            "intersection": intersection
        }
    return messages.INFO, _(
        "Command sent to %(intersection)s; waiting for the controller to acknowledge it."
    ) % {"intersection": intersection}


@require_POST
@staff_required
def signal_command_submit(request: HttpRequest, code: str) -> HttpResponse:
    """Send a command from the device page's form, then go back with what happened."""
    device = _visible_device(request.user, code)
    back = _back(request, device)
    form = SignalCommandForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect(back)
    data = form.cleaned_data
    try:
        command = signal_command_create(
            actor=cast(User, request.user),  # staff_required let only staff accounts in
            device=device,
            action=data["action"],
            plan=data["plan"],
            reason=data["reason"],
            duration_minutes=data["duration_minutes"],
        )
    except DjangoValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not command this traffic signal."))
        return redirect(back)
    command = signal_commands_of(device).select_related("device__signal").get(pk=command.pk)
    level, text = _outcome(command)
    messages.add_message(request, level, text)
    return redirect(back)
