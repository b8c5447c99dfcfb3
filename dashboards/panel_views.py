"""The /ops/ side panel: one device's live parts as JSON, from which the dashboard's script
(panel.js) builds its panel with every string set as text, never parsed as HTML (camera
player, readings chart, signal control, open alerts).

The answer comes from the device page's own selector and permission checks, so the panel
and the page show the same things to the same people; the device lookup is scoped (another
ward's device is a 404). What a value means to a person (a status's name, a translated
label) travels beside the value; the panel's fixed wording is ``panel_labels()``.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from cameras.choices import CommandStatus, DeviceKind, SignalAction
from cameras.models import Device, SignalCommand, SignalDetail
from cameras.selectors import DeviceDossier, device_dossier_for_user
from cameras.serializers import hls_url
from cameras.services.signal_commands import (
    DEFAULT_DURATION_MINUTES,
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
    signal_command_allowed,
)
from cameras.video.labels import video_labels
from cameras.video.sources import plays_live
from cameras.video_views import HLS_SCRIPT
from cameras.views import readings_chart
from ioc.access import staff_required
from ioc.choices import AlertStatus
from ioc.models import Alert
from ioc.selectors import may_handle_alerts

# The parts the script may ask for again when a live event concerns them.
PANEL_PARTS = frozenset({"alerts", "signal"})
# The panel charts a short window; the device page has the whole day.
PANEL_CHART_HOURS = 6
SNAPSHOT_REFRESH_SECONDS = 5
# The relay's player (live_video.js reads window.mpegts), loaded by the panel on first need.
LIVE_SCRIPT = "cameras/vendor/mpegts/mpegts.js"
# The command form's suggestions and limits (the service checks them again).
SUGGESTED_PLANS = ("P1", "P2", "P3")
PLAN_PLACEHOLDER = "P2"
# The service's PLAN_NAME as a pattern attribute, which browsers compile with the v flag:
# there a hyphen in a class must be escaped.
PLAN_INPUT_PATTERN = r"[A-Za-z0-9_.\-]{1,32}"
PLAN_MAX_LENGTH = 32
REASON_MAX_LENGTH = 2000
ALERT_ACTIONS = ("acknowledge", "assign", "resolve")


@staff_required
@require_GET
def device_panel(request: HttpRequest, code: str) -> JsonResponse:
    """The side panel's data for one visible device, or only ``?part=alerts|signal``
    (``{"alerts": ...}`` or ``{"signal": ...}``, as in the whole answer)."""
    part = request.GET.get("part", "")
    if part and part not in PANEL_PARTS:
        raise Http404("No such part.")
    try:
        dossier = device_dossier_for_user(request.user, code)
    except Device.DoesNotExist as exc:
        raise Http404("No such device.") from exc
    device = dossier.device
    may_command = signal_command_allowed(request.user, device)
    may_handle = may_handle_alerts(request.user)
    parts = {
        "alerts": lambda: panel_alerts(dossier.open_alerts, may_handle=may_handle),
        "signal": lambda: panel_signal(dossier, may_command=may_command),
    }
    if part:
        answer = {part: parts[part]()}
    else:
        answer = {
            "device": panel_device(device),
            "camera": panel_camera(dossier),
            "readings": panel_readings(dossier),
            "signal": parts["signal"](),
            "alerts": parts["alerts"](),
        }
    if may_command or may_handle:
        get_token(request)  # the script sends the csrftoken cookie back: make sure it is set
    return JsonResponse(answer, headers={"Cache-Control": "no-store"})


def panel_device(device: Device) -> dict[str, Any]:
    """Who the device is, as the panel names it."""
    return {
        "code": device.code,
        "name": device.name,
        "kind": device.kind,
        "kind_label": device.get_kind_display(),
        "status": device.status,
        "status_label": device.get_status_display(),
        "ward": {"code": device.ward.code, "title": device.ward.title},
        "url": reverse("ops-device-detail", kwargs={"code": device.code}),
    }


def panel_camera(dossier: DeviceDossier) -> dict[str, Any] | None:
    """A camera's snapshot (through the server's proxy) and stream, without credentials: an
    RTSP camera plays live through the relay (``stream_url`` gives a viewing address, the
    sub-stream first); an HLS camera without RTSP plays its HLS address."""
    camera = dossier.camera
    if camera is None:
        return None
    code = dossier.device.code
    live = plays_live(camera)
    hls = None if live else hls_url(camera)
    return {
        "snapshot_url": (
            reverse("ops-device-snapshot", kwargs={"code": code}) if camera.snapshot_url else None
        ),
        "refresh_seconds": SNAPSHOT_REFRESH_SECONDS,
        "stream_protocol": camera.stream_protocol,
        "stream_protocol_label": camera.get_stream_protocol_display(),
        "live": live,
        "stream_url": reverse("ops-device-stream", kwargs={"code": code}) if live else None,
        "live_script": static(LIVE_SCRIPT) if live else None,
        "hls_url": hls,
        "hls_script": static(HLS_SCRIPT) if hls else None,
    }


def panel_readings(dossier: DeviceDossier) -> dict[str, Any] | None:
    """A sensor's chart over the panel's few hours (None for other devices; ``chart`` None
    for a sensor that never reported)."""
    if dossier.device.kind != DeviceKind.SENSOR:
        return None
    chart = readings_chart(dossier)
    if chart is not None:
        chart["hours"] = PANEL_CHART_HOURS
        chart["labels"]["empty"] = ngettext(
            "No readings in the last hour.",
            "No readings in the last %(hours)d hours.",
            PANEL_CHART_HOURS,
        ) % {"hours": PANEL_CHART_HOURS}
    return {"hours": PANEL_CHART_HOURS, "chart": chart}


def panel_signal(dossier: DeviceDossier, *, may_command: bool) -> dict[str, Any] | None:
    """A traffic signal's state, the command in force and, for those who may command it,
    the command form's options and where to send it (None for other devices)."""
    device = dossier.device
    if device.kind != DeviceKind.SIGNAL:
        return None
    live = dossier.live_command
    return {
        "state": signal_state(dossier.signal) if dossier.signal else None,
        "live_command": live_command(live) if live else None,
        "may_command": may_command,
        "commands_url": (
            reverse("api-device-commands", kwargs={"code": device.code}) if may_command else None
        ),
        "form": signal_form(has_live_command=live is not None) if may_command else None,
    }


def signal_state(signal: SignalDetail) -> dict[str, Any]:
    """What the controller last said (never its address or credentials)."""
    return {
        "intersection": signal.intersection,
        "mode": signal.mode,
        "mode_label": signal.get_mode_display(),
        "plan": signal.plan,
        "phase": signal.phase,
        "comm_status": signal.comm_status,
        "comm_status_label": signal.get_comm_status_display(),
        "state_at": signal.state_at,
        "faults": [str(fault) for fault in signal.faults or []],
    }


def live_command(command: SignalCommand) -> dict[str, Any]:
    """The command pending, sent or in force."""
    return {
        "id": command.pk,
        "action": command.action,
        "action_label": command.get_action_display(),
        "status": command.status,
        "status_label": command.get_status_display(),
        "plan": command.plan,
        "requested_by": command.requested_by.get_username() if command.requested_by else "",
        "expires_at": command.expires_at,
        "error": command.error,
    }


def signal_form(*, has_live_command: bool) -> dict[str, Any]:
    """The command form's choices and limits; with a command in force, the form offers the
    way back to automatic first."""
    return {
        "actions": [{"value": value, "label": str(label)} for value, label in SignalAction.choices],
        "action": SignalAction.AUTO if has_live_command else SignalAction.SET_PLAN,
        "plans": list(SUGGESTED_PLANS),
        "plan_placeholder": PLAN_PLACEHOLDER,
        "plan_pattern": PLAN_INPUT_PATTERN,
        "plan_max_length": PLAN_MAX_LENGTH,
        "reason_max_length": REASON_MAX_LENGTH,
        "duration_minutes": {
            "min": MIN_DURATION_MINUTES,
            "max": MAX_DURATION_MINUTES,
            "default": DEFAULT_DURATION_MINUTES,
        },
    }


def panel_alerts(alerts: list[Alert], *, may_handle: bool) -> dict[str, Any]:
    """The device's open alerts, each with the actions the user may take on it."""
    return {"may_handle": may_handle, "items": [panel_alert(a, may_handle) for a in alerts]}


def panel_alert(alert: Alert, may_handle: bool) -> dict[str, Any]:
    """One open alert, its actions (action -> alert API address) and its incident."""
    actions = {
        action: reverse("api-alert-action", kwargs={"pk": alert.pk, "action": action})
        for action in ALERT_ACTIONS
        if may_handle and (action != "acknowledge" or alert.status == AlertStatus.ACTIVE)
    }
    assignee = alert.assignee
    return {
        "id": alert.pk,
        "title": alert.title,
        "severity": alert.severity,
        "severity_label": alert.get_severity_display(),
        "status": alert.status,
        "status_label": alert.get_status_display(),
        "raised_at": alert.raised_at,
        "occurrences": alert.occurrences,
        "assignee": (assignee.get_full_name() or assignee.username) if assignee else None,
        "actions": actions,
        "incident_url": (
            reverse("ops-incident-detail", kwargs={"pk": alert.incident_id})
            if alert.incident_id
            else None
        ),
        "open_incident_url": (
            reverse("ops-incident-from-alert", kwargs={"alert_id": alert.pk})
            if may_handle and not alert.incident_id
            else None
        ),
    }


def panel_labels() -> dict[str, object]:
    """The interface text of the side panel's script (panel.js), translated here."""
    return {
        "loading": _("Loading…"),
        "loadError": _("The device's details could not be loaded."),
        "alertUpdated": _("Alert updated: %(title)s"),
        "commandSent": _("Command sent: %(status)s."),
        "actionFailed": _("That did not work. Try again."),
        "commandStatus": {value: str(label) for value, label in CommandStatus.choices},
        # The camera.
        "liveStream": _("Live stream"),
        "liveStreamOf": _("Live stream of %(name)s"),
        "streamFailed": _("The stream could not be played."),
        "noBrowserStream": _("No stream a browser can play (%(protocol)s)."),
        "snapshotAlt": _("Latest image from %(name)s"),
        "noImage": _("No image"),
        "fullscreen": _("Full screen"),
        # What the live player says (live_video.js), as on the device page and the wall.
        "video": video_labels(),
        # The sensor.
        "readings": ngettext(
            "Readings, last hour", "Readings, last %(hours)s hours", PANEL_CHART_HOURS
        )
        % {"hours": PANEL_CHART_HOURS},
        "noReadings": _("This sensor has not reported any values yet."),
        # The traffic signal.
        "signalControl": _("Traffic-signal control"),
        "intersection": _("Intersection"),
        "mode": _("Mode"),
        "plan": _("Timing plan"),
        "phase": _("Phase"),
        "communication": _("Communication"),
        "activeFaults": _("Active faults"),
        "inForce": _("In force: %(action)s (%(status)s), requested by %(who)s."),
        "returnsAt": _("Returns to automatic at %(until)s."),
        "mayNotCommand": _("Your account may not command this traffic signal."),
        "action": _("Action"),
        "planHint": _("(for “Run a timing plan”)"),
        "duration": _("Duration (minutes)"),
        "overrideNote": _(
            "An override returns to automatic by itself when its time is up; only one can"
            " be in force at a time."
        ),
        "reason": _("Reason"),
        "confirm": _("Confirm"),
        "confirmText": _(
            "This changes the traffic lights at %(intersection)s at once. Check the action,"
            " the plan and the duration."
        ),
        "iConfirm": _("I confirm"),
        "send": _("Send the command"),
        # The open alerts.
        "openAlerts": _("Open alerts"),
        "noAlerts": _("No open alerts."),
        "acknowledge": _("Acknowledge"),
        "take": _("Take it"),
        "whatWasDone": _("What was done"),
        "resolve": _("Resolve"),
        "incident": _("Incident"),
        "openIncident": _("Open an incident"),
    }
