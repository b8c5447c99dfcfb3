"""``manage.py ingest_mqtt`` against the local Mosquitto broker."""

from __future__ import annotations

import io
import os
import socket
import uuid
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from django.core.management import CommandError, call_command

from cameras.models import Device, DeviceEvent, IngestBatch
from cameras.mqtt import MqttBridge, parse_message
from tests.support import ON_CI, Stack, camera_code, wait_for
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN

MQTT_HOST = os.environ.get("IOC_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("IOC_MQTT_PORT", "1883"))


def test_topic_and_payload_become_an_ingest_event() -> None:
    event, why = parse_message(
        f"ioc/{OWN}/{camera_code(OWN)}/detection",
        b'{"id": "m1", "ts": "2026-11-21T08:00:00+07:00", "data": {"kind": "fire"}}',
    )
    assert why == ""
    assert event is not None
    assert (event["device"], event["type"], event["ward"], event["data"]) == (
        camera_code(OWN),
        "detection",
        OWN,
        {"kind": "fire"},
    )


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (f"other/{OWN}/X/heartbeat", b"{}", "not ioc/"),
        (f"ioc/{OWN}/X", b"{}", "not ioc/"),
        (f"ioc/{OWN}/X/heartbeat", b"{oops", "not JSON"),
        (f"ioc/{OWN}/X/heartbeat", b"[1]", "JSON object"),
        (f"ioc/{OWN}/X/heartbeat", b'{"id": "a", "ts": "2026-11-21T08:00:00"}', "offset"),
        (f"ioc/{OWN}/X/gossip", b'{"id": "a", "ts": "2026-11-21T08:00:00+07:00"}', "type"),
        (f"ioc/{OWN}/X/heartbeat", b'{"id": "a", "ts": "2099-01-01T00:00:00+07:00"}', "future"),
        (f"ioc/{OWN}/X/heartbeat", b'{"id": "a", "ts": "0001-01-01T00:00:00+07:00"}', "2000"),
        (
            f"ioc/{OWN}/X/status",
            b'{"id": "a", "ts": "2026-11-21T08:00:00+07:00", "data": {"mode": "manual-override"}}',
            "'mode'",
        ),
    ],
)
def test_bad_messages_are_refused_with_a_reason(topic: str, payload: bytes, reason: str) -> None:
    event, why = parse_message(topic, payload)
    assert event is None
    assert reason in why


def test_the_tls_options_reach_paho(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        mqtt.Client, "tls_set", lambda self, **kwargs: calls.append(kwargs), raising=True
    )
    bridges: list[MqttBridge] = []

    def run(self: MqttBridge, *, duration: float = 0) -> Any:
        bridges.append(self)
        return self.stats

    monkeypatch.setattr(MqttBridge, "run", run)
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "bridge.pem", "bridge.key"))
    out = io.StringIO()
    call_command(
        "ingest_mqtt",
        "--port=8883",
        f"--ca-file={ca}",
        f"--cert-file={cert}",
        f"--key-file={key}",
        stdout=out,
    )
    assert calls == [{"ca_certs": str(ca), "certfile": str(cert), "keyfile": str(key)}]
    assert "mqtts://127.0.0.1:8883" in out.getvalue()


def test_tls_from_the_settings_uses_the_systems_authorities(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(mqtt.Client, "tls_set", lambda self, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(MqttBridge, "run", lambda self, duration=0: self.stats)
    settings.IOC_MQTT_TLS = True
    call_command("ingest_mqtt", stdout=io.StringIO())
    assert calls == [{"ca_certs": None, "certfile": None, "keyfile": None}]
    settings.IOC_MQTT_TLS = False
    call_command("ingest_mqtt", stdout=io.StringIO())
    assert len(calls) == 1  # plain MQTT unless asked


def test_a_client_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(CommandError, match="go together"):
        call_command("ingest_mqtt", "--cert-file=/etc/ioc/bridge.pem", stdout=io.StringIO())


def broker_available() -> bool:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.integration
def test_bridge_ingests_published_events_once_and_survives_bad_ones(stack: Stack) -> None:
    if not broker_available():
        message = f"no MQTT broker on {MQTT_HOST}:{MQTT_PORT} (mosquitto)"
        if ON_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    camera = Device.objects.filter(ward__code=OWN, kind="camera").first()
    assert camera is not None
    client_id = f"ioc-test-{uuid.uuid4().hex[:8]}"
    stack.manage(
        "ingest_mqtt",
        "--client-id",
        client_id,
        "--host",
        MQTT_HOST,
        "--port",
        str(MQTT_PORT),
        ready=b"ingest_mqtt:",
    )
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{client_id}-pub")
    publisher.connect(MQTT_HOST, MQTT_PORT)
    publisher.loop_start()
    try:
        wait_for(lambda: _subscribed(stack), 15, "the bridge to subscribe")
        topic = f"ioc/{OWN}/{camera.code}/detection"
        body: dict[str, Any] = {
            "id": "mqtt-1",
            "ts": "2026-11-21T08:00:00+07:00",
            "data": {"kind": "crowd"},
        }
        for payload in [b"{broken", orjson.dumps(body), orjson.dumps(body)]:
            publisher.publish(topic, payload, qos=1).wait_for_publish(5)
        publisher.publish(
            f"ioc/{OTHER}/{camera.code}/heartbeat",
            orjson.dumps({**body, "id": "wrong-ward"}),
            qos=1,
        ).wait_for_publish(5)
        wait_for(
            lambda: DeviceEvent.objects.filter(device=camera, event_id="mqtt-1").exists(),
            20,
            "the MQTT event to be stored",
        )
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    assert DeviceEvent.objects.filter(device=camera, event_id="mqtt-1").count() == 1
    assert not DeviceEvent.objects.filter(event_id="wrong-ward").exists()
    assert IngestBatch.objects.filter(source="mqtt").exists()


def _subscribed(stack: Stack) -> bool:
    """The bridge logs its subscription; messages published before it would be missed."""
    return any(b"mqtt: subscribed to" in p.log_path.read_bytes() for p in stack.processes)
