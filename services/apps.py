"""App configuration for citizen services."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicesConfig(AppConfig):
    """Citizen feedback (phản ánh), the staff workflow and Open311."""

    name = "services"
    verbose_name = _("Citizen services")

    def ready(self) -> None:
        """Take part in reorganisations of units: the core cannot name this app, so the
        app hands it what follows a reorganisation here (ioc.services.reorganisation)."""
        from ioc.services.reorganisation import follower_register
        from services.services.reorganisation import RequestsFollower

        follower_register(RequestsFollower())
