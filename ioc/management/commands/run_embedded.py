"""``make run``: migrate, load the demo once, and serve it all from one process."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from ioc.demo import data
from ioc.demo.loader import load_demo


def local_url(host: str, port: int) -> str:
    """The URL a process on this machine uses to reach a server listening on host:port."""
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - recognising "every interface"
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Command(BaseCommand):
    """Start the embedded platform on one port, ready to use."""

    help = "Migrate, load the demo if absent, and serve the platform (embedded mode)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo.")
        parser.add_argument(
            "--no-simulator",
            action="store_true",
            help="Do not start `manage.py simulate` (the demo devices stay silent).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from ioc.embedded import serve

        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_demo"]:
            summary = load_demo(password=settings.IOC_DEMO_PASSWORD)
            verb = "Loaded" if summary.created else "Using"
            self.stdout.write(
                f"{verb} the demo of {data.PROVINCE[1]}: {summary.wards} units in force "
                f"({summary.former} former units), {summary.devices} devices."
            )
            self._print_logins()
        url = f"http://{options['host']}:{options['port']}/"
        simulator_url = None
        if not options["no_simulator"]:
            simulator_url = local_url(options["host"], options["port"])
            self.stdout.write(
                f"The simulator starts with the server (--no-simulator to leave it out); "
                f"device endpoints on {settings.IOC_SIMULATOR_URL}."
            )
        self.stdout.write(self.style.SUCCESS(f"IOC ready on {url}") + "  (Ctrl-C to stop)")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                serve(host=options["host"], port=options["port"], simulator_url=simulator_url)
            )

    def _print_logins(self) -> None:
        """Tell the new user how to log in (the demo accounts exist only in the demo)."""
        self.stdout.write(f"Demo logins (password: {settings.IOC_DEMO_PASSWORD}):")
        rows = [
            ("admin", "administrator, /admin/"),
            ("operator", "city operator, the whole province"),
            ("official1", f"ward official, ward {data.OFFICIAL1_WARD} Phan Đình Phùng"),
            ("official2", f"ward official, ward {data.OFFICIAL2_WARD} Quan Triều"),
            ("department1", "department staff, Phòng Quản lý đô thị"),
        ]
        for username, what in rows:
            self.stdout.write(f"  {username:<12} {what}")
