"""``python manage.py simulate``: the demo city's devices, live, against a running server."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.simulator import runner


class Command(BaseCommand):
    """Simulate the demo devices: push their events and serve their endpoints."""

    help = (
        "Simulate the demo city's cameras, sensors and traffic signals against a running "
        "server: push heartbeats, readings, status, detections and faults to the ingest API "
        "through the demo gateways (fresh tokens are issued at start), and serve camera "
        "health and snapshots and the signal controllers' API."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="the platform's base URL"
        )
        parser.add_argument(
            "--listen",
            default=None,
            help="host:port for the device endpoints (default: from IOC_SIMULATOR_URL)",
        )
        parser.add_argument(
            "--rate", type=float, default=60.0, help="approximate events per second in all"
        )
        parser.add_argument(
            "--duration", type=float, default=0.0, help="seconds to run (0 = until stopped)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed")
        parser.add_argument(
            "--rtsp-port",
            type=int,
            default=None,
            help="port of the cameras' RTSP streams on 127.0.0.1 (default: "
            "IOC_SIMULATOR_RTSP_PORT; 0 = no streams)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rate"] <= 0:
            raise CommandError("--rate must be positive.")
        try:
            listen = runner.listen_address(options["listen"] or settings.IOC_SIMULATOR_URL)
        except ValueError as exc:
            raise CommandError(f"--listen must look like 127.0.0.1:8100 ({exc}).") from exc
        run_settings = runner.Settings(
            server_url=options["url"].rstrip("/"),
            listen=listen,
            duration=max(options["duration"], 0.0),
            parent_pid=runner.env_parent_pid(),
            rtsp_port=(
                settings.IOC_SIMULATOR_RTSP_PORT
                if options["rtsp_port"] is None
                else options["rtsp_port"]
            ),
        )
        try:
            runner.simulate(
                rate=options["rate"], seed=options["seed"], settings=run_settings, log=self.log
            )
        except runner.ListenError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            self.log("stopped")

    def log(self, message: str) -> None:
        """One console line, prefixed so that it stands out in the server's output."""
        self.stdout.write(f"simulator: {message}")
        sys.stdout.flush()
