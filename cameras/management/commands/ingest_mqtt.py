"""``python manage.py ingest_mqtt``: feed device events from an MQTT broker (see cameras.mqtt)."""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.mqtt import MqttBridge, MqttTls


class Command(BaseCommand):
    """Subscribe to ioc/<ward>/<device>/<type> and ingest what devices publish."""

    help = (
        "Subscribe to an MQTT broker (topics ioc/<ward>/<device>/<type>, JSON payload "
        '{"id", "ts", "data"}) and ingest the events like the HTTP API does.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.IOC_MQTT_HOST)
        parser.add_argument("--port", type=int, default=settings.IOC_MQTT_PORT)
        parser.add_argument("--topic", default="ioc/+/+/+")
        parser.add_argument("--username", default=settings.IOC_MQTT_USERNAME)
        parser.add_argument("--password", default=settings.IOC_MQTT_PASSWORD)
        parser.add_argument("--client-id", default="ioc-ingest")
        parser.add_argument(
            "--tls",
            action="store_true",
            default=settings.IOC_MQTT_TLS,
            help="connect with TLS, verifying the broker's certificate (IOC_MQTT_TLS)",
        )
        parser.add_argument(
            "--ca-file",
            default=settings.IOC_MQTT_CA_FILE,
            help="the authority that signed the broker's certificate; implies --tls "
            "(default: the system's authorities)",
        )
        parser.add_argument(
            "--cert-file",
            default=settings.IOC_MQTT_CERT_FILE,
            help="the bridge's client certificate (PEM), with --key-file; implies --tls",
        )
        parser.add_argument(
            "--key-file", default=settings.IOC_MQTT_KEY_FILE, help="the client certificate's key"
        )
        parser.add_argument("--duration", type=float, default=0, help="stop after N seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["cert_file"]) != bool(options["key_file"]):
            raise CommandError("--cert-file and --key-file go together.")
        tls = None
        if options["tls"] or options["ca_file"] or options["cert_file"]:
            tls = MqttTls(
                ca_file=options["ca_file"],
                cert_file=options["cert_file"],
                key_file=options["key_file"],
            )
        bridge = MqttBridge(
            host=options["host"],
            port=options["port"],
            topic=options["topic"],
            username=options["username"],
            password=options["password"],
            client_id=options["client_id"],
            tls=tls,
        )
        signal.signal(signal.SIGTERM, lambda *_: bridge.stop())
        scheme = "mqtts" if tls else "mqtt"
        self.stdout.write(
            f"ingest_mqtt: {scheme}://{options['host']}:{options['port']} {options['topic']}"
        )
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
