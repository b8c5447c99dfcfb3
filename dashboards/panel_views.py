"""The /ops/ side panel: one device's live parts as an HTML fragment the dashboard's script
drops into its panel (camera player, readings chart, signal control, open alerts).

The fragment is rendered from the device page's own selector and templates, so the panel
and the page show the same things with the same permissions; the device lookup is scoped
(another ward's device is a 404).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from cameras.choices import CommandStatus
from cameras.models import Device
from cameras.selectors import device_dossier_for_user
from cameras.serializers import hls_url
from cameras.services.signal_commands import signal_command_allowed
from cameras.views import readings_chart
from ioc.access import staff_required
from ioc.selectors import may_handle_alerts

# The parts the script may ask for again when a live event concerns them.
PANEL_PARTS = frozenset({"alerts", "signal"})
# The panel charts a short window; the device page has the whole day.
PANEL_CHART_HOURS = 6
SNAPSHOT_REFRESH_SECONDS = 5


@staff_required
@require_GET
def device_panel(request: HttpRequest, code: str) -> HttpResponse:
    """The side panel's body for one visible device, or only ``?part=alerts|signal``."""
    part = request.GET.get("part", "")
    if part and part not in PANEL_PARTS:
        raise Http404("No such part.")
    try:
        dossier = device_dossier_for_user(request.user, code)
    except Device.DoesNotExist as exc:
        raise Http404("No such device.") from exc
    device = dossier.device
    chart = readings_chart(dossier) if not part else None
    if chart is not None:
        chart["hours"] = PANEL_CHART_HOURS
        chart["labels"]["empty"] = ngettext(
            "No readings in the last hour.",
            "No readings in the last %(hours)d hours.",
            PANEL_CHART_HOURS,
        ) % {"hours": PANEL_CHART_HOURS}
    response = render(
        request,
        "ops/device_panel.html",
        {
            "part": part,
            "device": device,
            "camera": dossier.camera,
            "signal": dossier.signal,
            "live_command": dossier.live_command,
            "alerts": dossier.open_alerts,
            "can_command": signal_command_allowed(request.user, device),
            "can_handle_alerts": may_handle_alerts(request.user),
            "hls_url": hls_url(dossier.camera) if dossier.camera else None,
            "chart": chart,
            "chart_hours": PANEL_CHART_HOURS,
            "commands_url": reverse("api-device-commands", kwargs={"code": device.code}),
            "refresh_seconds": SNAPSHOT_REFRESH_SECONDS,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def panel_labels() -> dict[str, object]:
    """The interface text of the side panel's script (panel.js), translated here."""
    return {
        "loading": _("Loading…"),
        "loadError": _("The device's details could not be loaded."),
        "alertUpdated": _("Alert updated: %(title)s"),
        "commandSent": _("Command sent: %(status)s."),
        "actionFailed": _("That did not work. Try again."),
        "commandStatus": {value: str(label) for value, label in CommandStatus.choices},
    }
