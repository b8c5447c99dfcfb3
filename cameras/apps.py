"""App configuration for the device registry."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
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
        post_migrate.connect(_partitions_after_migrate, sender=self)


def _partitions_after_migrate(using: str = "default", **_kwargs: Any) -> None:
    """The history tables' partitions, from the retention cutoff to a week ahead, as soon
    as the tables are partitioned (PostgreSQL; nothing on SQLite)."""
    from cameras.services.history import partitions_ensure

    if using == "default":
        partitions_ensure()
