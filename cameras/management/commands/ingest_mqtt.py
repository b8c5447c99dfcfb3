"""``python manage.py ingest_mqtt``: feed device events from an MQTT broker (see cameras.mqtt)."""

from __future__ import annotations

import os
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cameras.mqtt import MqttBridge


class Command(BaseCommand):
    """Subscribe to ioc/<ward>/<device>/<type> and ingest what devices publish."""

    help = (
        "Subscribe to an MQTT broker (topics ioc/<ward>/<device>/<type>, JSON payload "
        '{"id", "ts", "data"}) and ingest the events like the HTTP API does.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("IOC_MQTT_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("IOC_MQTT_PORT", "1883"))
        )
        parser.add_argument("--topic", default="ioc/+/+/+")
        parser.add_argument("--username", default=os.environ.get("IOC_MQTT_USERNAME", ""))
        parser.add_argument("--password", default=os.environ.get("IOC_MQTT_PASSWORD", ""))
        parser.add_argument("--client-id", default="ioc-ingest")
        parser.add_argument("--duration", type=float, default=0, help="stop after N seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        bridge = MqttBridge(
            host=options["host"],
            port=options["port"],
            topic=options["topic"],
            username=options["username"],
            password=options["password"],
            client_id=options["client_id"],
        )
        signal.signal(signal.SIGTERM, lambda *_: bridge.stop())
        self.stdout.write(f"ingest_mqtt: {options['host']}:{options['port']} {options['topic']}")
        self.stdout.flush()
        try:
            stats = bridge.run(duration=options["duration"])
        except KeyboardInterrupt:
            bridge.stop()
            stats = bridge.stats
        self.stdout.write(
            f"ingest_mqtt: received {stats.received}, accepted {stats.accepted}, "
            f"duplicates {stats.duplicates}, rejected {stats.rejected}"
        )
