"""App configuration for the device registry."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CamerasConfig(AppConfig):
    """Cameras, sensors and traffic signals: registry, ingest and commands."""

    name = "cameras"
    verbose_name = _("Device registry")
