"""The MQTT bridge behind ``python manage.py ingest_mqtt``.

Topic scheme: ``ioc/<ward code>/<device code>/<type>`` with a JSON payload
``{"id": "...", "ts": "2026-11-21T08:00:00+07:00", "data": {...}}`` (the device and the
type come from the topic). Messages are collected for up to ``flush_seconds`` or
``MAX_EVENTS`` and handed to the same accept service as the HTTP API; they are
acknowledged to the broker (QoS 1, manual acknowledgement) only once stored, so a crash
before that makes the broker send them again, and duplicates are recognised by id.

The broker authenticates devices; restrict each to its own topic with an ACL, e.g. in
Mosquitto: ``pattern write ioc/+/%u/#`` with the device code as the MQTT username.
Over a network you do not control, connect with TLS (``MqttTls``, ``--tls``): the broker's
certificate is verified, and a client certificate can authenticate the bridge.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from cameras.models import Device
from cameras.services.ingest.outbox import ingest_accept
from cameras.services.ingest.validation import MAX_EVENTS, ParsedEvent, event_errors

logger = logging.getLogger(__name__)


@dataclass
class BridgeStats:
    """What the bridge did since it started."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MqttTls:
    """TLS to the broker: the authority that signed its certificate (empty: the system's),
    and the bridge's own certificate and key when the broker asks for one."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


def parse_message(topic: str, payload: bytes | bytearray) -> tuple[dict[str, Any] | None, str]:
    """One MQTT message as a raw ingest event, or None and why it was refused."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "ioc":
        return None, f"topic {topic!r} is not ioc/<ward>/<device>/<type>"
    _root, ward, device, kind = parts
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return None, f"payload on {topic} is not JSON: {exc}"
    if not isinstance(body, dict):
        return None, f"payload on {topic} must be a JSON object"
    raw = {
        "id": body.get("id"),
        "device": device,
        "ts": body.get("ts"),
        "type": kind,
        "data": body.get("data", {}),
    }
    errors, event = event_errors(raw)
    if errors or event is None:
        return None, f"event on {topic} refused: {errors}"
    event["ward"] = ward
    return event, ""


class MqttBridge:
    """Subscribe to the device topics and feed the ingest service in batches."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        topic: str = "ioc/+/+/+",
        username: str = "",
        password: str = "",
        flush_seconds: float = 0.5,
        client_id: str = "ioc-ingest",
        tls: MqttTls | None = None,
    ) -> None:
        self.topic = topic
        self.flush_seconds = flush_seconds
        self.stats = BridgeStats()
        self._pending: list[tuple[int, dict[str, Any]]] = []  # (mid, event)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,  # the broker keeps QoS 1 messages while we are away
            manual_ack=True,
        )
        if username:
            self.client.username_pw_set(username, password)
        if tls is not None:
            # Verifies the broker's certificate (against ``ca_file``, else the system's
            # authorities) and its host name; a client certificate authenticates the bridge.
            self.client.tls_set(
                ca_certs=tls.ca_file or None,
                certfile=tls.cert_file or None,
                keyfile=tls.key_file or None,
            )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.host, self.port = host, port

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            logger.error("mqtt: connection refused: %s", reason)
            return
        client.subscribe(self.topic, qos=1)
        logger.info("mqtt: subscribed to %s on %s:%s", self.topic, self.host, self.port)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        event, why = parse_message(message.topic, message.payload)
        if event is None:
            self.stats.rejected += 1
            logger.warning("mqtt: %s", why)
            client.ack(message.mid, message.qos)  # a bad message never gets better
            return
        with self._lock:
            self._pending.append((message.mid, event))

    def flush(self) -> int:
        """Store what has arrived; acknowledge it to the broker once stored."""
        with self._lock:
            pending, self._pending = self._pending[:MAX_EVENTS], self._pending[MAX_EVENTS:]
        if not pending:
            return 0
        codes = {event["device"] for _mid, event in pending}
        devices = {
            row["code"]: row
            for row in Device.objects.filter(code__in=codes).values("id", "code", "ward__code")
        }
        events: list[ParsedEvent] = []
        for _mid, event in pending:
            device = devices.get(event["device"])
            if device is None or device["ward__code"] != event["ward"]:
                self.stats.rejected += 1
                logger.warning("mqtt: no device %s in ward %s", event["device"], event["ward"])
                continue
            events.append(
                ParsedEvent(
                    device["id"],
                    event["device"],
                    event["id"],
                    event["type"],
                    event["ts"],
                    event["data"],
                )
            )
        if events:
            result = ingest_accept(events=events, source="mqtt")
            self.stats.accepted += result.accepted
            self.stats.duplicates += result.duplicates
        for mid, _event in pending:
            self.client.ack(mid, 1)
        return len(pending)

    def run(self, *, duration: float = 0) -> BridgeStats:
        """Connect and bridge until stopped (or for ``duration`` seconds)."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                if duration and time.monotonic() - started > duration:
                    break
                time.sleep(self.flush_seconds)
                try:
                    while self.flush():
                        pass
                except Exception as exc:  # the database is down: keep the messages unacked
                    logger.exception("mqtt: could not store events; the broker will resend")
                    self.stats.errors.append(str(exc))
        finally:
            self.flush()
            self.client.loop_stop()
            self.client.disconnect()
        return self.stats

    def stop(self) -> None:
        """Ask run() to finish after its current flush."""
        self._stop.set()
