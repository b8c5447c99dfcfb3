"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from cameras.choices import DeviceKind, DeviceStatus
from ioc.provinces import installation_name


def platform(request: HttpRequest) -> dict[str, Any]:
    """The installation's name (its province's, unless IOC_CITY_NAME says otherwise) and the
    map configuration that the layouts and map scripts need."""
    return {
        "IOC_CITY_NAME": installation_name(),
        "IOC_TILE_URL": settings.IOC_TILE_URL,
        "IOC_TILE_ATTRIBUTION": settings.IOC_TILE_ATTRIBUTION,
        "IOC_EMBEDDED": settings.EMBEDDED,
        "IOC_WS_PORT": settings.IOC_WS_PORT,
        "map_labels": {
            "status": dict(DeviceStatus.choices),
            "kind": dict(DeviceKind.choices),
            "noTiles": _("Base map unavailable: showing wards and devices only."),
            "open": _("Open"),
        },
    }
