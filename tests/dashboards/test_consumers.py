"""The operations websocket: numbered messages per group, coalesced readings, the snapshot,
resynchronisation and the heartbeat.

The unit tests at the top run on SQLite and the in-memory layer; the ones marked
``integration`` go through a real uvicorn process on PostgreSQL and channels-redis.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import transaction
from websockets.exceptions import InvalidStatus

from cameras.choices import DeviceStatus
from cameras.models import Device
from cameras.services import device_status_set
from ioc import realtime
from ioc.choices import Severity
from ioc.models import User
from ioc.realtime import CITY_GROUP, Event, EventType, current_seqs, publish, ward_group
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import (
    GroupListener,
    example_user,
    in_thread,
    raise_alert,
    session_cookie,
    ws_next_event,
    ws_open,
    ws_receive,
)

OWN_GROUP, OTHER_GROUP = ward_group(OWN), ward_group(OTHER)
AT = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


# --- Sequence numbers and coalescing (SQLite, in-memory layer) --------------------------------


def reading(device: str, ts: str, **values: float) -> Event:
    return Event(
        type=EventType.DEVICE_READING,
        ward=OWN,
        data={"device": device, "values": values, "ts": ts},
        at=AT,
    )


def test_each_group_numbers_its_own_messages_one_by_one(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city, own, other = (listener.join(g) for g in (CITY_GROUP, OWN_GROUP, OTHER_GROUP))
    before = current_seqs([CITY_GROUP, OWN_GROUP, OTHER_GROUP])

    with django_capture_on_commit_callbacks(execute=True):
        publish(Event(type=EventType.ALERT_RAISED, ward=OWN, data={"n": 1}, at=AT))
        publish(Event(type=EventType.ALERT_RAISED, ward=OTHER, data={"n": 2}, at=AT))
        publish(Event(type=EventType.ALERT_UPDATED, ward=OWN, data={"n": 3}, at=AT))

    city_seqs = [listener.receive(city)["event"]["seq"] for _ in range(3)]
    assert city_seqs == [before[CITY_GROUP] + 1, before[CITY_GROUP] + 2, before[CITY_GROUP] + 3]
    own_events = [listener.receive(own)["event"] for _ in range(2)]
    assert [(e["group"], e["seq"], e["data"]["n"]) for e in own_events] == [
        (OWN_GROUP, before[OWN_GROUP] + 1, 1),
        (OWN_GROUP, before[OWN_GROUP] + 2, 3),
    ]
    other_event = listener.receive(other)["event"]
    assert (other_event["group"], other_event["seq"]) == (OTHER_GROUP, before[OTHER_GROUP] + 1)
    assert current_seqs([CITY_GROUP, OWN_GROUP, OTHER_GROUP]) == {
        CITY_GROUP: before[CITY_GROUP] + 3,
        OWN_GROUP: before[OWN_GROUP] + 2,
        OTHER_GROUP: before[OTHER_GROUP] + 1,
    }


def test_readings_of_one_device_in_one_transaction_leave_as_one_merged_event(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city = listener.join(CITY_GROUP)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        publish(reading("AQ-1", "08:00", pm25=40.0, pm10=60.0))
        publish(reading("AQ-2", "08:00", pm25=10.0))
        publish(reading("AQ-1", "08:01", pm25=55.0))

    assert len(callbacks) == 2
    first, second = (listener.receive(city)["event"] for _ in range(2))
    listener.assert_silent(city)
    assert first["type"] == "device.reading"
    assert first["data"] == {
        "device": "AQ-1",
        "values": {"pm25": 55.0, "pm10": 60.0},
        "ts": "08:01",
    }
    assert second["data"] == {"device": "AQ-2", "values": {"pm25": 10.0}, "ts": "08:00"}
    assert second["seq"] == first["seq"] + 1


def test_a_reading_in_a_rolled_back_savepoint_is_not_merged(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city = listener.join(CITY_GROUP)

    with django_capture_on_commit_callbacks(execute=True):
        publish(reading("AQ-1", "08:00", pm25=40.0))
        with pytest.raises(RuntimeError), transaction.atomic():
            publish(reading("AQ-1", "08:01", pm25=99.0))
            raise RuntimeError("roll back the savepoint")

    assert listener.receive(city)["event"]["data"]["values"] == {"pm25": 40.0}
    listener.assert_silent(city)


def test_other_event_types_are_never_coalesced(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city = listener.join(CITY_GROUP)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for status in ("offline", "online"):
            publish(
                Event(
                    type=EventType.DEVICE_STATUS,
                    ward=OWN,
                    data={"device": "AQ-1", "status": status},
                    at=AT,
                )
            )

    assert len(callbacks) == 2
    assert [listener.receive(city)["event"]["data"]["status"] for _ in range(2)] == [
        "offline",
        "online",
    ]


def test_heartbeat_carries_each_groups_current_seq_without_advancing_it(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city, own = listener.join(CITY_GROUP), listener.join(OWN_GROUP)
    with django_capture_on_commit_callbacks(execute=True):
        publish(Event(type=EventType.ALERT_RAISED, ward=OWN, data={}, at=AT))
    sent = {CITY_GROUP: listener.receive(city), OWN_GROUP: listener.receive(own)}

    realtime.heartbeat([OWN, OTHER])
    realtime.heartbeat([OWN, OTHER])

    for group, channel in ((CITY_GROUP, city), (OWN_GROUP, own)):
        for _ in range(2):
            beat = listener.receive(channel)["event"]
            assert beat["type"] == "heartbeat"
            assert (beat["group"], beat["seq"]) == (group, sent[group]["event"]["seq"])
            assert beat["at"]


# --- Through a real server (PostgreSQL, channels-redis, uvicorn) ------------------------------


@pytest.fixture
def cookies(asgi_server: str) -> dict[str, str]:
    """Sessions of the demo users, made before any event loop runs (the ORM is sync)."""
    return {name: session_cookie(name) for name in ("official1", "official2", "operator")}


def _online_device(ward_code: str) -> Device:
    device = (
        Device.objects.filter(ward__code=ward_code, status=DeviceStatus.ONLINE)
        .order_by("code")
        .first()
    )
    assert device is not None
    return device


def _set_status(device: Device, status: DeviceStatus) -> Any:
    """Change a device's status as the operator would, from inside the event loop."""

    def change() -> Device:
        return device_status_set(
            actor=example_user("operator"),
            device=device,
            status=status,
            reason="Bảo trì định kỳ",
        )

    return in_thread(change)


async def _published(group: str, seq: int, timeout: float = 5) -> None:
    """Wait until ``group`` has sent a message numbered after ``seq``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await in_thread(current_seqs, groups=[group]))[group] <= seq:
        assert asyncio.get_running_loop().time() < deadline, f"nothing sent through {group}"
        await asyncio.sleep(0.05)


@pytest.mark.integration
def test_snapshot_first_then_numbered_events_of_the_users_wards_only(
    asgi_server: str, cookies: dict[str, str]
) -> None:
    own_alert, other_alert = (
        raise_alert(OWN, severity=Severity.CRITICAL),
        raise_alert(OTHER, severity=Severity.CRITICAL),
    )
    own_device, other_device = _online_device(OWN), _online_device(OTHER)
    own_devices = set(Device.objects.filter(ward__code=OWN).values_list("code", flat=True))

    async def scenario() -> dict[str, Any]:
        sockets = {name: await ws_open(asgi_server, cookie) for name, cookie in cookies.items()}
        snapshots = {name: await ws_receive(ws) for name, ws in sockets.items()}
        await _set_status(own_device, DeviceStatus.MAINTENANCE)
        own_events = {
            name: await ws_next_event(sockets[name]) for name in ("official1", "operator")
        }
        with pytest.raises(TimeoutError):
            await ws_next_event(sockets["official2"], 1.5)
        await _set_status(other_device, DeviceStatus.MAINTENANCE)
        other_event = await ws_next_event(sockets["official2"])
        with pytest.raises(TimeoutError):
            await ws_next_event(sockets["official1"], 1.5)
        for ws in sockets.values():
            await ws.close()
        return {"snapshots": snapshots, "own": own_events, "other": other_event}

    result = asyncio.run(scenario())
    official1 = result["snapshots"]["official1"]
    assert official1["type"] == "snapshot"
    assert official1["heartbeat_seconds"] > 0
    assert official1["wards"] == [OWN]
    assert list(official1["seq"]) == [OWN_GROUP, f"{OWN_GROUP}.requests"]
    assert set(official1["devices"]) == own_devices
    assert {"status", "kind", "ward", "last_seen_at", "lat", "lon", "name"} == set(
        official1["devices"][own_device.code]
    )
    alert_ids = {alert["id"] for alert in official1["alerts"]}
    assert own_alert.pk in alert_ids and other_alert.pk not in alert_ids
    assert {alert["ward"] for alert in official1["alerts"]} == {OWN}
    assert official1["kpis"]["alerts"]["critical"] >= 1
    assert list(result["snapshots"]["operator"]["seq"]) == [CITY_GROUP, "requests"]
    assert len(result["snapshots"]["operator"]["devices"]) == Device.objects.count()

    event = result["own"]["official1"]
    assert (event["type"], event["ward"], event["data"]["device"]) == (
        "device.status",
        OWN,
        own_device.code,
    )
    assert (event["group"], event["seq"]) == (OWN_GROUP, official1["seq"][OWN_GROUP] + 1)
    city_event = result["own"]["operator"]
    city_seq = result["snapshots"]["operator"]["seq"][CITY_GROUP]
    assert (city_event["group"], city_event["seq"]) == (CITY_GROUP, city_seq + 1)
    other = result["other"]
    official2_seq = result["snapshots"]["official2"]["seq"][OTHER_GROUP]
    assert (other["ward"], other["data"]["device"]) == (OTHER, other_device.code)
    assert (other["group"], other["seq"]) == (OTHER_GROUP, official2_seq + 1)


@pytest.mark.integration
def test_resync_answers_with_a_fresh_snapshot(asgi_server: str, cookies: dict[str, str]) -> None:
    device = _online_device(OWN)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        ws = await ws_open(asgi_server, cookies["official1"])
        first = await ws_receive(ws)
        await _set_status(device, DeviceStatus.MAINTENANCE)
        await ws_next_event(ws)  # the device.status event
        await ws.send(json.dumps({"type": "resync"}))
        fresh = await ws_next_event(ws)
        await ws.close()
        return first, fresh

    first, fresh = asyncio.run(scenario())
    assert first["devices"][device.code]["status"] == "online"
    assert fresh["type"] == "snapshot"
    assert set(fresh) == set(first)
    assert fresh["devices"][device.code]["status"] == "maintenance"
    assert fresh["seq"][OWN_GROUP] == first["seq"][OWN_GROUP] + 1


@pytest.mark.integration
def test_a_new_connection_sees_what_changed_while_disconnected(
    asgi_server: str, cookies: dict[str, str]
) -> None:
    device = _online_device(OWN)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        ws = await ws_open(asgi_server, cookies["official1"])
        before = await ws_receive(ws)
        await ws.close()
        await _set_status(device, DeviceStatus.OFFLINE)
        # The change is committed; its message leaves with the next batch (within
        # IOC_LIVE_BATCH_MS). A snapshot taken before that would still be right (the client
        # then receives the event too); this test checks the numbering, so let it leave.
        await _published(OWN_GROUP, before["seq"][OWN_GROUP])
        ws = await ws_open(asgi_server, cookies["official1"])
        after = await ws_receive(ws)
        await ws.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert before["devices"][device.code]["status"] == "online"
    assert after["type"] == "snapshot"
    assert after["devices"][device.code]["status"] == "offline"
    assert after["seq"][OWN_GROUP] == before["seq"][OWN_GROUP] + 1


@pytest.mark.integration
def test_heartbeat_carries_the_groups_current_seq(
    asgi_server: str, cookies: dict[str, str]
) -> None:
    device = _online_device(OWN)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        ws = await ws_open(asgi_server, cookies["official1"])
        snapshot = await ws_receive(ws)
        await in_thread(realtime.heartbeat, ward_codes=[OWN, OTHER])
        quiet = await ws_receive(ws)
        await _set_status(device, DeviceStatus.MAINTENANCE)
        await ws_next_event(ws)
        await in_thread(realtime.heartbeat, ward_codes=[OWN, OTHER])
        after_event = await ws_receive(ws)
        await ws.close()
        return snapshot, quiet, after_event

    snapshot, quiet, after_event = asyncio.run(scenario())
    seq = snapshot["seq"][OWN_GROUP]
    assert (quiet["type"], quiet["group"], quiet["seq"]) == ("heartbeat", OWN_GROUP, seq)
    assert (after_event["type"], after_event["seq"]) == ("heartbeat", seq + 1)


# --- The consumer in-process (SQLite, in-memory layer) -----------------------------------------


def _talk(user: User, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Connect as ``user``, send ``messages`` one by one, return everything received.

    asgiref's communicator, not channels.testing (which needs daphne, not a dependency).
    """
    from asgiref.testing import ApplicationCommunicator
    from channels.db import database_sync_to_async
    from django.db import connections

    from dashboards.consumers import OpsConsumer

    scope = {"type": "websocket", "path": "/ws/ops/", "user": user, "headers": []}

    async def receive_json(communicator: ApplicationCommunicator) -> dict[str, Any]:
        message = await communicator.receive_output(timeout=5)
        assert message["type"] == "websocket.send", message
        return dict(json.loads(message["text"]))

    async def conversation() -> list[dict[str, Any]]:
        communicator = ApplicationCommunicator(OpsConsumer.as_asgi(), scope)
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output(timeout=5))["type"] == "websocket.accept"
        received = [await receive_json(communicator)]
        for message in messages:
            await communicator.send_input(
                {"type": "websocket.receive", "text": json.dumps(message)}
            )
            received.append(await receive_json(communicator))
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=5)
        return received

    async def scenario() -> list[dict[str, Any]]:
        try:
            return await conversation()
        finally:
            # The consumer's queries ran in asgiref's worker thread: close that thread's
            # connection, or it would outlive the test (and block dropping the test database).
            await database_sync_to_async(connections.close_all)()

    return asyncio.run(scenario())


def test_consumer_answers_ping_and_resync(demo_city: Any, listener: GroupListener) -> None:
    official = example_user("official1")

    snapshot, pong, fresh = _talk(official, {"type": "ping"}, {"type": "resync"})

    assert snapshot["type"] == "snapshot"
    assert snapshot["wards"] == [OWN]
    assert pong["type"] == "pong"
    assert fresh["type"] == "snapshot"
    assert set(fresh) == set(snapshot)
    assert fresh["devices"] == snapshot["devices"]


@pytest.mark.integration
def test_a_wards_screen_gets_that_wards_snapshot_and_events_only(
    asgi_server: str, cookies: dict[str, str]
) -> None:
    own_device, other_device = _online_device(OWN), _online_device(OTHER)
    own_devices = set(Device.objects.filter(ward__code=OWN).values_list("code", flat=True))

    async def scenario() -> dict[str, Any]:
        ws = await ws_open(asgi_server, cookies["operator"], f"/ws/ops/?ward={OWN}")
        snapshot = await ws_receive(ws)
        await _set_status(other_device, DeviceStatus.MAINTENANCE)
        await _set_status(own_device, DeviceStatus.MAINTENANCE)
        event = await ws_next_event(ws)  # the other ward's change never comes
        await ws.send(json.dumps({"type": "resync"}))
        resynced = await ws_next_event(ws)
        await ws.close()
        # Another ward's screen is refused at the handshake, like an anonymous caller.
        with pytest.raises(InvalidStatus):
            await ws_open(asgi_server, cookies["official1"], f"/ws/ops/?ward={OTHER}")
        return {"snapshot": snapshot, "event": event, "resync": resynced}

    result = asyncio.run(scenario())
    snapshot = result["snapshot"]
    assert snapshot["wards"] == [OWN]
    assert list(snapshot["seq"]) == [OWN_GROUP, f"{OWN_GROUP}.requests"]
    assert set(snapshot["devices"]) == own_devices
    assert {alert["ward"] for alert in snapshot["alerts"]} <= {OWN}
    event = result["event"]
    assert (event["ward"], event["data"]["device"], event["group"]) == (
        OWN,
        own_device.code,
        OWN_GROUP,
    )
    assert result["resync"]["type"] == "snapshot" and result["resync"]["wards"] == [OWN]


@pytest.mark.integration
def test_events_come_one_per_message_unless_the_client_asks_for_batches(
    asgi_server: str, cookies: dict[str, str]
) -> None:
    devices = list(
        Device.objects.filter(ward__code=OWN, status=DeviceStatus.ONLINE).order_by("code")[:2]
    )

    def change_both() -> None:
        operator = example_user("operator")
        with transaction.atomic():  # one commit: both events leave in the same window
            for device in devices:
                device_status_set(
                    actor=operator, device=device, status=DeviceStatus.MAINTENANCE, reason="x"
                )

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        plain = await ws_open(asgi_server, cookies["official1"])
        batched = await ws_open(asgi_server, cookies["official1"], "/ws/ops/?batch=1")
        await ws_receive(plain), await ws_receive(batched)
        await in_thread(change_both)
        singles = [await ws_next_event(plain), await ws_next_event(plain)]
        frames = [await ws_next_event(batched)]
        while sum(len(f.get("events", [f])) for f in frames) < 2:
            frames.append(await ws_next_event(batched))
        await plain.close(), await batched.close()
        return singles, frames

    singles, frames = asyncio.run(scenario())
    assert [event["type"] for event in singles] == ["device.status", "device.status"]
    assert singles[1]["seq"] == singles[0]["seq"] + 1
    assert [frame["type"] for frame in frames] == ["batch"]  # one commit, one frame
    unpacked = [event for frame in frames for event in frame.get("events", [frame])]
    assert [(e["data"]["device"], e["seq"]) for e in unpacked] == [
        (e["data"]["device"], e["seq"]) for e in singles
    ]
