"""A screen connected before a reorganisation ends up in its new scope (issue 14, item 4):
``units.reorganised`` reaches it through ``city`` or its old unit's group, its consumer
joins the groups its user has now and sends a new snapshot, and the next event of the new
unit reaches it.

The merger keeps the third unit's code, so official1 (of the own unit) must change groups:
``ward.<own>`` before, ``ward.<third>`` after. The first test runs the consumer in-process
(SQLite, in-memory layer); the integration test goes through a real uvicorn process on
PostgreSQL and channels-redis.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from cameras.choices import DeviceStatus
from cameras.models import Device
from cameras.services import device_status_set
from dashboards.fanout import Frames
from ioc.models import User
from ioc.realtime import event_types, ward_group, ward_requests_group
from tests.support import OWN_WARD as OWN
from tests.support import THIRD_WARD as THIRD
from tests.support import (
    example_user,
    in_thread,
    session_cookie,
    ws_next_event,
    ws_open,
    ws_receive,
)
from tests.support.reorganisation import merger, reorganise, unit

pytestmark = pytest.mark.usefixtures("fresh_ward_index")


def test_a_reorganisation_message_asks_every_screen_that_hears_it_to_rescope() -> None:
    from datetime import date

    from ioc.realtime import json_safe

    event = event_types.units_reorganised(
        effective=date(2025, 7, 1), retired=[OWN, THIRD], units=[THIRD]
    )
    text = json.dumps({**json_safe(event.as_message()), "group": "city", "seq": 1})
    assert Frames({"event": json.loads(text)}).rescope
    assert Frames({"texts": ["{}", text.replace(", ", ",").replace(": ", ":")]}).rescope
    other = event_types.device_status(
        ward=OWN, device="units.reorganised", kind="camera", status="online", last_seen_at=None
    )
    assert not Frames({"event": json_safe(other.as_message())}).rescope


def _files() -> tuple[dict[str, Any], str]:
    """The merger that keeps the third unit's code: official1 must change groups."""
    return merger(keep=THIRD)


def _device_of_own() -> Device:
    device = Device.objects.filter(ward=unit(OWN)).order_by("code").first()
    assert device is not None
    return device


def _maintenance(device: Device) -> None:
    device_status_set(
        device=Device.objects.get(pk=device.pk),
        status=DeviceStatus.MAINTENANCE,
        actor=example_user("operator"),
        reason="Bảo trì sau sắp xếp",
    )


def test_a_screen_connected_before_takes_its_new_scope_in_process(
    demo_city_committed: Any, tmp_path: Path
) -> None:
    from asgiref.testing import ApplicationCommunicator
    from channels.db import database_sync_to_async
    from django.db import connections
    from django.test import override_settings

    from dashboards.consumers import OpsConsumer

    official = User.objects.get(username="official1")
    device = _device_of_own()
    files = _files()
    scope = {"type": "websocket", "path": "/ws/ops/", "user": official, "headers": []}

    async def receive_json(communicator: ApplicationCommunicator) -> dict[str, Any]:
        message = await communicator.receive_output(timeout=10)
        assert message["type"] == "websocket.send", message
        return dict(json.loads(message["text"]))

    async def next_of(communicator: ApplicationCommunicator, kind: str) -> dict[str, Any]:
        while (message := await receive_json(communicator))["type"] != kind:
            pass
        return message

    async def conversation() -> dict[str, Any]:
        communicator = ApplicationCommunicator(OpsConsumer.as_asgi(), scope)
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output(timeout=5))["type"] == "websocket.accept"
        before = await receive_json(communicator)
        await database_sync_to_async(reorganise)(tmp_path, *files)
        told = await next_of(communicator, "units.reorganised")
        after = await next_of(communicator, "snapshot")
        await database_sync_to_async(_maintenance)(device)
        event = await next_of(communicator, "device.status")
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=5)
        return {"before": before, "told": told, "after": after, "event": event}

    async def scenario() -> dict[str, Any]:
        try:
            return await conversation()
        finally:
            await database_sync_to_async(connections.close_all)()

    in_memory = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with override_settings(CHANNEL_LAYERS=in_memory, IOC_LIVE_BATCH_SECONDS=0):
        result = asyncio.run(scenario())

    assert result["before"]["wards"] == [OWN]
    assert list(result["before"]["seq"]) == [ward_group(OWN), ward_requests_group(OWN)]
    told = result["told"]
    assert told["group"] == ward_group(OWN)
    assert set(told["data"]["retired"]) == {OWN, THIRD} and told["data"]["units"] == [THIRD]
    after = result["after"]
    assert after["wards"] == [THIRD]
    assert list(after["seq"]) == [ward_group(THIRD), ward_requests_group(THIRD)]
    assert device.code in after["devices"]
    event = result["event"]
    assert (event["data"]["device"], event["group"]) == (device.code, ward_group(THIRD))


@pytest.mark.integration
def test_a_screen_connected_before_takes_its_new_scope(asgi_server: str, tmp_path: Path) -> None:
    cookies = {name: session_cookie(name) for name in ("official1", "operator")}
    device = _device_of_own()
    files = _files()

    async def next_of(ws: Any, kind: str) -> dict[str, Any]:
        while (message := await ws_next_event(ws, 15))["type"] != kind:
            pass
        return message

    async def scenario() -> dict[str, Any]:
        official = await ws_open(asgi_server, cookies["official1"])
        screen = await ws_open(asgi_server, cookies["operator"], f"/ws/ops/?ward={OWN}")
        before = await ws_receive(official)
        await ws_receive(screen)
        await in_thread(reorganise, folder=tmp_path, plan=files[0], mapping=files[1])
        told = await next_of(official, "units.reorganised")
        after = await next_of(official, "snapshot")
        screen_after = await next_of(screen, "snapshot")
        await in_thread(_maintenance, device=device)
        event = await next_of(official, "device.status")
        screen_event = await next_of(screen, "device.status")
        await official.close(), await screen.close()
        return {
            "before": before,
            "told": told,
            "after": after,
            "screen": screen_after,
            "event": event,
            "screen_event": screen_event,
        }

    result = asyncio.run(scenario())
    assert result["before"]["wards"] == [OWN]
    assert result["told"]["data"]["units"] == [THIRD]
    assert result["after"]["wards"] == [THIRD]
    assert list(result["after"]["seq"]) == [ward_group(THIRD), ward_requests_group(THIRD)]
    assert result["screen"]["wards"] == [THIRD]  # a ward's screen follows its unit
    for event in (result["event"], result["screen_event"]):
        assert (event["data"]["device"], event["group"]) == (device.code, ward_group(THIRD))
