"""App configuration for citizen services."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicesConfig(AppConfig):
    """Citizen feedback (phản ánh), the staff workflow and Open311."""

    name = "services"
    verbose_name = _("Citizen services")
