"""``python manage.py load_demo``: load the demo city (Thành phố Thái Nguyên) once."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from ioc.demo.loader import load_demo


class Command(BaseCommand):
    """Load wards, devices, departments and the demo accounts, unless already loaded."""

    help = "Load the demo city of Thái Nguyên (wards, devices, departments, demo logins)."

    def handle(self, *args: Any, **options: Any) -> None:
        summary = load_demo(password=settings.IOC_DEMO_PASSWORD)
        if summary.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded {summary.wards} wards and {summary.devices} devices; "
                    f"logins {', '.join(summary.users)} (password from IOC_DEMO_PASSWORD)."
                )
            )
        else:
            self.stdout.write("The demo city is already loaded; nothing changed.")
