"""The camera wall at ``/ops/cameras/wall/``: a grid of refreshing snapshots for one ward
or a chosen set of cameras, scoped like every other screen (another ward is a 404)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cameras.choices import DeviceStatus, StreamQuality
from cameras.models import Device
from cameras.selectors import device_camera
from cameras.services.polling import snapshot_path
from cameras.video.labels import video_labels
from cameras.video.sources import plays_live
from cameras.video_views import initial_stream_addresses
from cameras.views import device_snapshot
from dashboards.selectors import wall_cameras
from ioc import selectors
from ioc.access import staff_required
from ioc.choices import Role
from ioc.models import Ward
from ioc.text import vietnamese_sort_key

# A still the poller took this recently (a few of the wall's refreshes) is shown as is and
# costs the camera nothing; an older one (the poller runs every IOC_CAMERA_POLL_SECONDS,
# 60 s by default) or none means asking the camera itself, so the wall stays live.
POLLED_FRESH_SECONDS = 15
GRID_SIZES = (2, 3, 4)
DEFAULT_GRID = 3
REFRESH_SECONDS = 5


@dataclass(frozen=True)
class WallChoice:
    """What a wall shows: a set of codes, or one ward (None: every visible camera)."""

    codes: list[str]
    ward: Ward | None
    grid: int

    def params(self) -> dict[str, str]:
        """The choice as query parameters (for paging and export links)."""
        params = {"grid": str(self.grid)}
        if self.codes:
            params["codes"] = ",".join(self.codes)
        elif self.ward is not None:
            params["ward"] = self.ward.code
        return params


def wall_choice(request: HttpRequest) -> WallChoice:
    """The wall's choice from the query; a ward outside the user's scope is a 404, and a
    ward official with no choice gets their first ward."""
    codes = [code.strip() for code in request.GET.get("codes", "").split(",") if code.strip()]
    try:
        grid = int(request.GET.get("grid") or DEFAULT_GRID)
    except ValueError:
        grid = DEFAULT_GRID
    if grid not in GRID_SIZES:
        grid = DEFAULT_GRID
    ward: Ward | None = None
    code = request.GET.get("ward", "").strip()
    if codes:
        code = ""
    if code:
        try:
            ward = selectors.ward_get_for_user(request.user, code)
        except Ward.DoesNotExist as exc:
            raise Http404("No such ward.") from exc
    elif not codes and getattr(request.user, "role", "") == Role.WARD_OFFICIAL:
        ward = selectors.wards_visible_to(request.user).order_by("code").first()
    return WallChoice(codes=codes, ward=ward, grid=grid)


def wall_tile(device: Device) -> dict[str, Any]:
    """What one tile needs: no credentials, no camera address."""
    camera = device_camera(device)
    return {
        "code": device.code,
        "name": device.name,
        "status": device.status,
        "status_label": device.get_status_display(),
        "ward": device.ward.code,
        "has_snapshot": bool(camera and camera.snapshot_url),
        "down": device.status in (DeviceStatus.OFFLINE, DeviceStatus.FAULT),
        "live": plays_live(camera),
    }


@staff_required
@require_GET
@never_cache  # it carries the tiles' short-lived stream addresses
def camera_wall(request: HttpRequest) -> HttpResponse:
    """The wall: grid size, paging, ward choice; tiles refreshed and marked by the script,
    those with a stream played live from addresses issued with the page."""
    choice = wall_choice(request)
    per_page = choice.grid * choice.grid
    page: Page[Device] = Paginator(
        wall_cameras(request.user, ward=choice.ward, codes=choice.codes), per_page
    ).get_page(request.GET.get("page"))
    query = QueryDict(mutable=True)
    query.update(choice.params())
    wards = sorted(
        selectors.wards_visible_to(request.user), key=lambda w: vietnamese_sort_key(w.name)
    )
    tiles = [wall_tile(device) for device in page.object_list]
    live = [device for device, tile in zip(page.object_list, tiles, strict=True) if tile["live"]]
    return render(
        request,
        "ops/camera_wall.html",
        {
            "nav": "wall",
            "choice": choice,
            "page": page,
            "tiles": tiles,
            "wards": wards,
            "grid_sizes": GRID_SIZES,
            "query": query.urlencode(),
            "refresh_seconds": REFRESH_SECONDS,
            "video_labels": video_labels(),
            "live_tiles": bool(live),
            # Each tile's sub-stream address, issued with the page (its tiles start at once).
            "stream_addresses": initial_stream_addresses(request, live, quality=StreamQuality.SUB),
            "wall_labels": {
                "status": {value: str(label) for value, label in DeviceStatus.choices},
                "snapshotAlt": _("Latest image from %(name)s"),
                "noImage": _("No image"),
                "fullscreen": _("Full screen"),
                "exitFullscreen": _("Leave full screen"),
            },
        },
    )


@staff_required
@require_GET
def wall_snapshot(request: HttpRequest, code: str) -> HttpResponseBase:
    """A wall tile's image: the poller's latest still of a visible camera when it is fresh,
    else the camera's own answer through the snapshot proxy; 404 outside the user's scope."""
    if not wall_cameras(request.user, codes=[code]).exists():
        raise Http404("No such camera.")
    try:
        path = snapshot_path(code)
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):  # no fresh still (or a code that cannot name a file)
        age = None
    if age is not None and age < POLLED_FRESH_SECONDS:
        return FileResponse(
            path.open("rb"),
            content_type="image/jpeg",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )
    return device_snapshot(request, code)
