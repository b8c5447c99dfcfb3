"""``python manage.py load_demo``: load the demo (Tỉnh Thái Nguyên) once."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ioc.demo.loader import LAST_FORMER_DAY, load_demo


class Command(BaseCommand):
    """Load units, devices, departments and the demo accounts, unless already loaded."""

    help = (
        "Load the demo of Tỉnh Thái Nguyên (its units, the former city's units and their "
        "successions, devices, departments, demo logins) and its last 30 days (requests, "
        "alerts, incidents, readings)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-month",
            action="store_true",
            help="Leave out the last 30 days: units, devices, departments and logins only.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        summary = load_demo(password=settings.IOC_DEMO_PASSWORD, month=not options["no_month"])
        if summary.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded {summary.wards} units in force ({summary.former} former units "
                    f"until {LAST_FORMER_DAY:%d/%m/%Y}) and {summary.devices} devices; "
                    f"logins {', '.join(summary.users)} (password from IOC_DEMO_PASSWORD)."
                )
            )
        else:
            self.stdout.write("The demo is already loaded; nothing changed.")
