"""App configuration for the core."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IocConfig(AppConfig):
    """The core: wards, departments, staff roles, audit log, realtime, geography."""

    name = "ioc"
    verbose_name = _("Operations centre")

    def ready(self) -> None:
        """Connect the cache-invalidation signals (the only signals the house allows)."""
        from ioc import signals  # noqa: F401
