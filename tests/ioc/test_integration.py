"""The production-shaped stack with real processes: PostgreSQL, Redis, a Celery worker,
an ASGI server and websocket clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from websockets.exceptions import InvalidStatus

from cameras.choices import DeviceStatus
from cameras.models import Device
from cameras.services import device_status_set
from ioc.models import Ward
from ioc.tasks import realtime_heartbeat_task
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import example_user, in_thread, session_cookie, ws_next_event, ws_open

pytestmark = pytest.mark.integration


def test_settings_use_postgresql_redis_and_real_workers() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis.")
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_task_runs_in_a_real_worker_process_and_publishes_through_redis(
    celery_worker_process: Any,
) -> None:
    async def scenario() -> dict[str, Any]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(f"ward.{OWN}", channel)
        # Tasks are not eager here: only the worker process can send this heartbeat.
        await asyncio.to_thread(realtime_heartbeat_task.delay)
        message = await asyncio.wait_for(layer.receive(channel), timeout=30)
        await layer.group_discard(f"ward.{OWN}", channel)
        return message

    message = asyncio.run(scenario())
    assert message["type"] == "ops.event"
    assert message["event"]["type"] == "heartbeat"


def test_service_event_reaches_exactly_the_websockets_that_may_see_it(asgi_server: str) -> None:
    device = Device.objects.filter(ward__code=OWN, status=DeviceStatus.ONLINE).first()
    assert device is not None
    operator = example_user("operator")
    cookies = {name: session_cookie(name) for name in ("official1", "official2", "operator")}
    own_devices = set(Device.objects.filter(ward__code=OWN).values_list("code", flat=True))

    async def scenario() -> dict[str, Any]:
        sockets = {name: await ws_open(asgi_server, cookie) for name, cookie in cookies.items()}
        snapshots = {name: json.loads(await ws.recv()) for name, ws in sockets.items()}
        await in_thread(
            device_status_set,
            actor=operator,
            device=device,
            status=DeviceStatus.MAINTENANCE,
            reason="Thay ống kính",
        )
        official1 = await ws_next_event(sockets["official1"], 10)
        city = await ws_next_event(sockets["operator"], 10)
        with pytest.raises(TimeoutError):
            await ws_next_event(sockets["official2"], 1.5)
        for ws in sockets.values():
            await ws.close()
        return {"snapshots": snapshots, "official1": official1, "city": city}

    result = asyncio.run(scenario())
    snapshot = result["snapshots"]["official1"]
    assert snapshot["type"] == "snapshot"
    assert snapshot["wards"] == [OWN]
    assert set(snapshot["devices"]) == own_devices
    assert result["snapshots"]["official2"]["wards"] == [OTHER]
    assert len(result["snapshots"]["operator"]["wards"]) == Ward.objects.current().count()
    for event in (result["official1"], result["city"]):
        assert event["type"] == "device.status"
        assert event["ward"] == OWN
        assert event["data"]["device"] == device.code
        assert event["data"]["status"] == "maintenance"
        assert event["at"]


def test_websocket_refuses_anonymous_and_foreign_origins(asgi_server: str) -> None:
    cookie = session_cookie("operator")

    async def scenario() -> None:
        with pytest.raises(InvalidStatus):
            await ws_open(asgi_server, None)
        with pytest.raises(InvalidStatus):
            await ws_open(asgi_server, cookie, origin="http://evil.example")
        ws = await ws_open(asgi_server, cookie)
        assert json.loads(await ws.recv())["type"] == "snapshot"
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"
        await ws.close()

    asyncio.run(scenario())
