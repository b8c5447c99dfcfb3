"""CSV exports of what the /ops/ screens show, scoped like the screens themselves: the open
alerts feed (with its filters), the ward list, one ward's devices, the camera wall's list
and the per-day report. Excel-friendly through ``cameras.services.csv_io``: BOM, dates
dd/mm/yyyy in Asia/Ho_Chi_Minh, text cells guarded against formulas, Vietnamese headers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cameras import selectors as device_selectors
from cameras.choices import DeviceKind
from cameras.services.csv_io import csv_date, csv_datetime, csv_lines, csv_text
from dashboards.report_views import report_range
from dashboards.selectors import (
    REPORT_TIME_ZONE,
    alerts_per_day,
    incidents_per_day,
    open_alerts_filtered,
    per_unit,
    wall_cameras,
)
from dashboards.views import _ward_rows
from dashboards.wall_views import wall_choice, wall_tile
from ioc import selectors
from ioc.access import staff_required
from ioc.choices import Severity
from ioc.models import Ward


def csv_response(
    name: str, header: Iterable[str], rows: Iterable[Iterable[str]]
) -> StreamingHttpResponse:
    """A CSV download named ``<name>-<local time>.csv``, streamed, never cached."""
    lines: Iterator[str] = csv_lines([str(h) for h in header], rows)
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in lines), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@staff_required
@require_GET
def alerts_export(request: HttpRequest) -> StreamingHttpResponse:
    """The open alerts of /ops/, narrowed by the screen's ward, device kind and severity."""
    requested = request.GET.getlist("kind")
    kinds = {kind for kind in requested if kind in DeviceKind.values}
    severity = request.GET.get("severity", "")
    alerts = open_alerts_filtered(
        request.user,
        ward=request.GET.get("ward", "").strip(),
        # Every layer on is no filter at all: alerts without a device stay in.
        kinds=sorted(kinds) if requested and len(kinds) < len(DeviceKind.values) else None,
        severity=severity if severity in Severity.values else "",
    )
    header = [
        _("Raised at"),
        _("Severity"),
        _("Status"),
        _("Title"),
        _("Ward code"),
        _("Ward"),
        _("Device"),
        _("Assigned to"),
        _("Occurrences"),
        _("Last seen"),
    ]
    rows = (
        [
            csv_datetime(alert.raised_at),
            csv_text(alert.get_severity_display()),
            csv_text(alert.get_status_display()),
            csv_text(alert.title),
            csv_text(alert.ward.code),
            csv_text(alert.ward.title),
            csv_text(alert.device.code if alert.device else ""),
            csv_text(alert.assignee.get_username() if alert.assignee else ""),
            str(alert.occurrences),
            csv_datetime(alert.last_seen_at),
        ]
        for alert in alerts.iterator(chunk_size=500)
    )
    return csv_response("alerts", header, rows)


@staff_required
@require_GET
def ward_list_export(request: HttpRequest) -> StreamingHttpResponse:
    """The ward list of /ops/wards/ with its device counts, and whether each unit has a
    boundary yet."""
    header = [
        _("Ward code"),
        _("Ward"),
        str(capfirst(Ward._meta.get_field("boundary").verbose_name)),
        _("Devices"),
        _("Online"),
        _("Online (%)"),
        _("Cameras"),
        _("Sensors"),
        _("Traffic signals"),
    ]
    rows = [
        [
            csv_text(row["ward"].code),  # type: ignore[attr-defined]
            csv_text(row["ward"].title),  # type: ignore[attr-defined]
            _("Yes") if row["has_boundary"] else _("No"),
            str(row["total"]),
            str(row["online"]),
            "" if row["online_pct"] is None else str(row["online_pct"]),
            str(row["cameras"]),
            str(row["sensors"]),
            str(row["signals"]),
        ]
        for row in _ward_rows(request)
    ]
    return csv_response("wards", header, rows)


def _device_header() -> list[str]:
    return [_("Code"), _("Name"), _("Kind"), _("Ward code"), _("Status"), _("Last seen")]


@staff_required
@require_GET
def ward_devices_export(request: HttpRequest, code: str) -> StreamingHttpResponse:
    """One ward's devices as /ops/wards/<code>/ lists them; 404 outside the user's scope."""
    try:
        ward = selectors.ward_get_for_user(request.user, code)
    except Ward.DoesNotExist as exc:
        raise Http404("No such ward.") from exc
    devices = device_selectors.devices_visible_to(request.user).filter(ward=ward)
    rows = (
        [
            csv_text(device.code),
            csv_text(device.name),
            csv_text(device.get_kind_display()),
            csv_text(ward.code),
            csv_text(device.get_status_display()),
            csv_datetime(device.last_seen_at),
        ]
        for device in devices.order_by("kind", "code")
    )
    return csv_response(f"ward-{ward.code}-devices", _device_header(), rows)


@staff_required
@require_GET
def wall_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every camera of the wall's choice (all pages), with its state."""
    choice = wall_choice(request)
    rows = (
        [
            csv_text(tile["code"]),
            csv_text(tile["name"]),
            csv_text(str(DeviceKind.CAMERA.label)),
            csv_text(tile["ward"]),
            csv_text(tile["status_label"]),
            csv_datetime(device.last_seen_at),
        ]
        for device in wall_cameras(request.user, ward=choice.ward, codes=choice.codes)
        for tile in [wall_tile(device)]
    )
    return csv_response("camera-wall", _device_header(), rows)


@staff_required
@require_GET
def report_export(request: HttpRequest) -> StreamingHttpResponse:
    """The report's alerts per day and severity, and incidents opened, one row per day."""
    days = report_range(request)
    series = alerts_per_day(request.user, first=days.first, last=days.last)
    incidents = incidents_per_day(request.user, first=days.first, last=days.last)
    labels = dict(Severity.choices)
    header = [
        _("Day"),
        *(str(labels.get(g, g)) for g in series.groups),
        _("Total"),
        _("Incidents opened"),
    ]
    rows = [
        [
            csv_date(day),
            *(str(counts[g]) for g in series.groups),
            str(sum(counts.values())),
            str(sum(opened.values())),
        ]
        for (day, counts), (_day, opened) in zip(series.rows(), incidents.rows(), strict=True)
    ]
    return csv_response("alerts-per-day", header, rows)


@staff_required
@require_GET
def report_units_export(request: HttpRequest) -> StreamingHttpResponse:
    """The report's figures per unit, on the units of the chosen day (today by default)."""
    days = report_range(request)
    today = timezone.now().astimezone(REPORT_TIME_ZONE).date()
    units, elsewhere = per_unit(request.user, first=days.first, last=days.last, on=days.on or today)
    header = [
        _("Code"),
        _("Unit"),
        _("Alerts raised"),
        _("Incidents opened"),
        _("Requests received"),
        _("Requests resolved"),
    ]
    rows = [
        [
            csv_text(row.code),
            csv_text(row.title),
            str(row.alerts),
            str(row.incidents),
            str(row.requests),
            str(row.requests_resolved),
        ]
        for row in units
    ]
    if elsewhere is not None:
        rows.append(
            [
                "",
                _("Not in a unit shown"),
                str(elsewhere.alerts),
                str(elsewhere.incidents),
                str(elsewhere.requests),
                str(elsewhere.requests_resolved),
            ]
        )
    return csv_response(f"units-{(days.on or today).isoformat()}", header, rows)
