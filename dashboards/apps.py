"""App configuration for the screens."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    """The operations dashboard, ward views and the live websocket."""

    name = "dashboards"
    verbose_name = _("Dashboards")
