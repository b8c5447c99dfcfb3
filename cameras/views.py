"""Staff pages of the device registry under ``/ops/devices/``: list, detail, CSV export
and import, and the camera snapshot proxy. Scoping comes from ``cameras.selectors``."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from cameras import device_http
from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device
from cameras.selectors import (
    DeviceDossier,
    camera_snapshot_source,
    device_dossier_for_user,
    device_export_rows,
    device_filters_parse,
    device_status_counts,
    devices_filtered,
)
from cameras.serializers import hls_url
from cameras.services.csv_io import (
    EXPORT_COLUMNS,
    MAX_FILE_BYTES,
    REQUIRED_COLUMNS,
    DeviceImportReport,
    RowError,
    devices_csv_lines,
    devices_import_csv,
)
from cameras.services.signal_commands import signal_command_allowed
from cameras.video.labels import video_labels
from cameras.video.sources import plays_live
from ioc.access import staff_required
from ioc.choices import Role
from ioc.models import User
from ioc.selectors import AnyUser, may_handle_alerts, wards_visible_to
from ioc.text import vietnamese_sort_key

PAGE_SIZE = 50


def is_admin(user: AnyUser) -> bool:
    """Administrators (the registry's writers), as ``ioc.permissions.IsAdminRole``."""
    return (
        isinstance(user, User) and user.is_active and (user.is_superuser or user.role == Role.ADMIN)
    )


@staff_required
@require_GET
def device_list(request: HttpRequest) -> HttpResponse:
    """Devices the user may see: search, filters, counts by status, 50 a page."""
    filters, _errors = device_filters_parse(request.GET)
    page = Paginator(devices_filtered(request.user, filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    counts = device_status_counts(request.user, filters)
    wards = sorted(wards_visible_to(request.user), key=lambda ward: vietnamese_sort_key(ward.name))
    query = QueryDict(mutable=True)
    query.update(filters.as_params())
    return render(
        request,
        "cameras/device_list.html",
        {
            "nav": "devices",
            "filters": filters,
            "filter_query": query,
            "page": page,
            "page_links": list(
                page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
            ),
            "ellipsis": Paginator.ELLIPSIS,
            "status_counts": [
                (status, label, counts[status]) for status, label in DeviceStatus.choices
            ],
            "matching": sum(counts.values()),
            "wards": wards,
            "kinds": DeviceKind.choices,
            "statuses": DeviceStatus.choices,
            "is_admin": is_admin(request.user),
        },
    )


def readings_chart(dossier: DeviceDossier) -> dict[str, Any] | None:
    """What the page's script needs to chart a sensor's last 24 hours, one chart per metric
    with its limits; None for other devices and sensors that never reported."""
    device = dossier.device
    if device.kind != DeviceKind.SENSOR or not dossier.metrics:
        return None
    limits = {t.metric: {"unit": t.unit, "low": t.low, "high": t.high} for t in dossier.thresholds}
    no_limits = {"unit": "", "low": None, "high": None}
    return {
        "url": reverse("api-device-readings", kwargs={"code": device.code}),
        "timeZone": settings.TIME_ZONE,
        "metrics": [
            {"metric": metric, **limits.get(metric, no_limits)} for metric in dossier.metrics
        ],
        "labels": {
            "time": _("Time"),
            "avg": _("Average"),
            "min": _("Minimum"),
            "max": _("Maximum"),
            "low": _("Low limit"),
            "high": _("High limit"),
            "empty": _("No readings in the last 24 hours."),
            "error": _("The readings could not be loaded."),
        },
    }


@staff_required
@require_GET
def device_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One device: registry fields, state, history, events, alerts and kind-specific parts."""
    try:
        dossier = device_dossier_for_user(request.user, code)
    except Device.DoesNotExist as exc:
        raise Http404("No such device.") from exc
    device = dossier.device
    units = {threshold.metric: threshold.unit for threshold in dossier.thresholds}
    return render(
        request,
        "cameras/device_detail.html",
        {
            "nav": "devices",
            "device": device,
            "dossier": dossier,
            "camera": dossier.camera,
            "signal": dossier.signal,
            "live_command": dossier.live_command,
            # The form (cameras/signal_command_form.html) is the signal commands' own.
            "can_command": signal_command_allowed(request.user, device),
            "can_handle_alerts": may_handle_alerts(request.user),
            "hls_url": hls_url(dossier.camera) if dossier.camera else None,
            "latest": [
                (metric, value, units.get(metric, ""))
                for metric, value in sorted((device.latest or {}).items())
            ],
            "events": [
                (event, json.dumps(event.data, ensure_ascii=False, sort_keys=True)[:300])
                for event in dossier.events
            ],
            "chart": readings_chart(dossier),
            "snapshot_refresh_seconds": 10,
            # Played live through the relay: a camera with an RTSP stream.
            "live_video": plays_live(dossier.camera),
            "video_labels": video_labels(),
        },
    )


@staff_required
@require_GET
def device_export(request: HttpRequest) -> HttpResponse:
    """The filtered, scoped device list as CSV (UTF-8 with BOM), without credentials."""
    filters, _errors = device_filters_parse(request.GET)
    body = "".join(devices_csv_lines(device_export_rows(request.user, filters)))
    response = HttpResponse(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="devices-{stamp}.csv"'
    return response


@staff_required
@require_http_methods(["GET", "POST"])
def device_import(request: HttpRequest) -> HttpResponse:
    """The CSV import form and its result (administrators only)."""
    if not is_admin(request.user):
        raise PermissionDenied("Only administrators may import devices.")
    report: DeviceImportReport | None = None
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            report = DeviceImportReport(errors=[RowError(None, "", _("Choose a CSV file."))])
        elif upload.size is not None and upload.size > MAX_FILE_BYTES:
            report = DeviceImportReport(
                errors=[
                    RowError(
                        None,
                        "",
                        _("The file is larger than %(size)d MB.")
                        % {"size": MAX_FILE_BYTES // 1024 // 1024},
                    )
                ]
            )
        else:
            assert isinstance(request.user, User)
            report = devices_import_csv(actor=request.user, file_bytes=upload.read())
        status = 200 if report.ok else 400
    return render(
        request,
        "cameras/device_import.html",
        {
            "nav": "devices",
            "report": report,
            "columns": EXPORT_COLUMNS,
            "required": REQUIRED_COLUMNS,
            "kinds": DeviceKind.values,
            "statuses": DeviceStatus.values,
        },
        status=status,
    )


# --- Camera snapshot proxy -----------------------------------------------------------------


@staff_required
@require_GET
def device_snapshot(request: HttpRequest, code: str) -> HttpResponse:
    """The camera's current still image through the server; 502 when it does not answer."""
    source = camera_snapshot_source(request.user, code)
    if source is None:
        raise Http404("No such camera.")
    try:
        auth = (source.username, source.password) if source.username else None
        content, content_type = device_http.snapshot_fetch(source.url, auth)
    except device_http.SnapshotUnavailable as exc:
        return JsonResponse({"detail": str(exc)}, status=502, headers={"Cache-Control": "no-store"})
    return HttpResponse(
        content,
        content_type=content_type,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
