"""The production-shaped stack with real processes: PostgreSQL, Redis, a Celery worker,
an ASGI server and websocket clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from cameras.choices import DeviceStatus
from cameras.models import Device
from cameras.services import device_status_set
from ioc.models import User
from ioc.tasks import realtime_heartbeat_task
from tests.conftest import in_thread, session_cookie

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
        await layer.group_add("ward.05449", channel)
        # Tasks are not eager here: only the worker process can send this heartbeat.
        await asyncio.to_thread(realtime_heartbeat_task.delay)
        message = await asyncio.wait_for(layer.receive(channel), timeout=30)
        await layer.group_discard("ward.05449", channel)
        return message

    message = asyncio.run(scenario())
    assert message["type"] == "ops.event"
    assert message["event"]["type"] == "heartbeat"


async def _open(url: str, origin: str, cookie: str | None) -> Any:
    headers = {"Origin": origin}
    if cookie:
        headers["Cookie"] = cookie
    return await connect(url, additional_headers=headers, open_timeout=10)


async def _next_event(ws: Any, timeout: float) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] != "heartbeat":
            return message


def test_service_event_reaches_exactly_the_websockets_that_may_see_it(asgi_server: str) -> None:
    ws_url = asgi_server.replace("http://", "ws://") + "/ws/ops/"
    device = Device.objects.filter(ward__code="05449", status=DeviceStatus.ONLINE).first()
    assert device is not None
    operator = User.objects.get(username="operator")
    cookies = {name: session_cookie(name) for name in ("official1", "official2", "operator")}
    own_devices = set(Device.objects.filter(ward__code="05449").values_list("code", flat=True))

    async def scenario() -> dict[str, Any]:
        sockets = {
            name: await _open(ws_url, asgi_server, cookie) for name, cookie in cookies.items()
        }
        snapshots = {name: json.loads(await ws.recv()) for name, ws in sockets.items()}
        await in_thread(
            device_status_set,
            actor=operator,
            device=device,
            status=DeviceStatus.MAINTENANCE,
            reason="Thay ống kính",
        )
        official1 = await _next_event(sockets["official1"], 10)
        city = await _next_event(sockets["operator"], 10)
        with pytest.raises(TimeoutError):
            await _next_event(sockets["official2"], 1.5)
        for ws in sockets.values():
            await ws.close()
        return {"snapshots": snapshots, "official1": official1, "city": city}

    result = asyncio.run(scenario())
    snapshot = result["snapshots"]["official1"]
    assert snapshot["type"] == "snapshot"
    assert snapshot["wards"] == ["05449"]
    assert set(snapshot["devices"]) == own_devices
    assert result["snapshots"]["official2"]["wards"] == ["05440"]
    assert len(result["snapshots"]["operator"]["wards"]) == 32
    for event in (result["official1"], result["city"]):
        assert event["type"] == "device.status"
        assert event["ward"] == "05449"
        assert event["data"]["device"] == device.code
        assert event["data"]["status"] == "maintenance"
        assert event["at"]


def test_websocket_refuses_anonymous_and_foreign_origins(asgi_server: str) -> None:
    ws_url = asgi_server.replace("http://", "ws://") + "/ws/ops/"
    cookie = session_cookie("operator")

    async def scenario() -> None:
        with pytest.raises(InvalidStatus):
            await _open(ws_url, asgi_server, None)
        with pytest.raises(InvalidStatus):
            await _open(ws_url, "http://evil.example", cookie)
        ws = await _open(ws_url, asgi_server, cookie)
        assert json.loads(await ws.recv())["type"] == "snapshot"
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"
        await ws.close()

    asyncio.run(scenario())
