"""App configuration for the device registry."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CamerasConfig(AppConfig):
    """Cameras, sensors and traffic signals: registry, ingest and commands."""

    name = "cameras"
    verbose_name = _("Device registry")

    def ready(self) -> None:
        """Take part in reorganisations of units: the core cannot name this app, so the
        app hands it what follows a reorganisation here (ioc.services.reorganisation)."""
        from cameras.services.reorganisation import DevicesFollower, GatewaysFollower
        from ioc.services.reorganisation import follower_register

        follower_register(DevicesFollower())
        follower_register(GatewaysFollower())
