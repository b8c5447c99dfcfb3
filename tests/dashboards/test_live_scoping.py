"""Whose live channel carries what (issue 13, hardening A): the groups of an event follow
its audience, so a department's staff hear only of the citizen requests routed to their
department, while they still see the city's devices; a ward official only their wards'.

The unit tests at the top run on SQLite; the ones marked ``integration`` go through real
websocket consumers in a uvicorn process on PostgreSQL and channels-redis.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ioc.models import Department
from ioc.realtime import CITY_GROUP, REQUESTS_GROUP, event_types
from ioc.realtime.events import event_groups
from services.models import ServiceRequest
from services.selectors import request_data
from services.services import request_assign
from tests.support import (
    DEPARTMENT,
    THIRD_WARD,
    example_user,
    file_request,
    in_thread,
    session_cookie,
    ws_next_event,
    ws_open,
    ws_receive,
)
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN


def _other_department() -> Department:
    other = Department.objects.exclude(code=DEPARTMENT).order_by("code").first()
    assert other is not None
    return other


def _routed(request: ServiceRequest, department: Department) -> ServiceRequest:
    """Route ``request`` to ``department`` as the operator does (commits in its thread)."""
    return request_assign(actor=example_user("operator"), request=request, department=department)


def test_a_request_goes_to_the_requests_groups_of_its_ward_and_department(
    demo_city: Any,
) -> None:
    request = file_request(OWN)
    request.department = Department.objects.get(code=DEPARTMENT)
    event = event_types.request_event(ward=OWN, request=request_data(request), created=False)

    assert event_groups(event) == [
        REQUESTS_GROUP,
        f"ward.{OWN}.requests",
        f"department.{DEPARTMENT}",
        f"department.{DEPARTMENT}.ward.{OWN}",
    ]
    assert CITY_GROUP not in event_groups(event)  # department staff are in ``city``


# --- Through real consumers (PostgreSQL, channels-redis, uvicorn) -----------------------------


@pytest.mark.integration
def test_department_staff_hear_only_of_requests_routed_to_their_department(
    asgi_server: str,
) -> None:
    cookies = {name: session_cookie(name) for name in ("department1", "official1", "official2")}
    mine, other = Department.objects.get(code=DEPARTMENT), _other_department()
    elsewhere, ours = file_request(OWN), file_request(THIRD_WARD)

    async def scenario() -> dict[str, Any]:
        department = await ws_open(asgi_server, cookies["department1"])
        own_official = await ws_open(asgi_server, cookies["official1"])
        official = await ws_open(asgi_server, cookies["official2"])
        snapshot = await ws_receive(department)
        await ws_receive(own_official), await ws_receive(official)
        await in_thread(_routed, request=elsewhere, department=other)
        in_own_ward = await ws_next_event(own_official)  # filed in official1's ward
        with pytest.raises(TimeoutError):
            await ws_next_event(department, 1.5)
        await in_thread(_routed, request=ours, department=mine)
        routed_here = await ws_next_event(department)
        # Routed away: that change, and every later one, are another department's.
        await in_thread(_routed, request=ours, department=other)
        await in_thread(_routed, request=ours, department=other)
        with pytest.raises(TimeoutError):
            await ws_next_event(department, 1.5)
        # None of it was in official2's ward.
        with pytest.raises(TimeoutError):
            await ws_next_event(official, 0.5)
        with pytest.raises(TimeoutError):  # ``ours`` is in the third ward, not official1's
            await ws_next_event(own_official, 0.5)
        await department.close(), await own_official.close(), await official.close()
        return {"snapshot": snapshot, "routed_here": routed_here, "in_own_ward": in_own_ward}

    result = asyncio.run(scenario())
    snapshot = result["snapshot"]
    assert list(snapshot["seq"]) == [CITY_GROUP, f"department.{DEPARTMENT}"]
    assert {item["department"] for item in snapshot["requests"]} <= {DEPARTMENT}
    event = result["routed_here"]
    assert (event["type"], event["data"]["code"]) == ("request.updated", ours.code)
    assert (event["data"]["department"], event["group"]) == (DEPARTMENT, f"department.{DEPARTMENT}")
    own = result["in_own_ward"]
    assert (own["data"]["code"], own["group"]) == (elsewhere.code, f"ward.{OWN}.requests")
    assert OTHER not in {OWN, THIRD_WARD}


# --- An empty Redis restart (hardening B) ------------------------------------------------------

OWN_REDIS_PORT = 6391


def _redis_start() -> None:
    import subprocess

    subprocess.run(
        [
            "redis-server",
            "--port",
            str(OWN_REDIS_PORT),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
        ],
        check=True,
    )
    _redis_wait(up=True)


def _redis_stop() -> None:
    """Stop this test's own Redis (never the shared one), dropping its data."""
    import subprocess

    subprocess.run(
        ["redis-cli", "-p", str(OWN_REDIS_PORT), "shutdown", "nosave"], capture_output=True
    )
    _redis_wait(up=False)


def _redis_wait(*, up: bool) -> None:
    import redis

    from tests.support import wait_for

    def answers() -> bool:
        try:
            return bool(redis.Redis(port=OWN_REDIS_PORT, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    wait_for(lambda: answers() == up, 10, f"Redis on {OWN_REDIS_PORT} {'up' if up else 'down'}")


@pytest.fixture
def own_redis() -> Any:
    """A Redis of this test's own, on another port, that it may restart empty."""
    _redis_stop()
    _redis_start()
    yield f"redis://127.0.0.1:{OWN_REDIS_PORT}/0"
    _redis_stop()


@pytest.mark.integration
def test_after_an_empty_redis_restart_events_arrive_in_a_new_epoch_at_once(
    stack: Any, own_redis: str
) -> None:
    import time

    import redis

    # The ward's counter has come a long way (the cache's key of ``seq_key``).
    redis.Redis.from_url(own_redis).set(f"ioc:1:realtime:seq:ward.{OWN}", 1000)
    server = stack.server(REDIS_URL=own_redis)
    cookie = session_cookie("official1")
    # Another process publishes a device event through the ward's group five times a second
    # (as a worker would), through the outage too (those fail and are logged).
    publisher = (
        "import time\n"
        "from ioc.realtime import send_to_groups, ward_group\n"
        "for n in range(150):\n"
        f"    send_to_groups([ward_group('{OWN}')], "
        "{'type': 'device.status', 'ward': '" + OWN + "', 'at': '', 'data': {'n': n}})\n"
        "    time.sleep(0.2)\n"
    )

    async def scenario() -> dict[str, Any]:
        ws = await ws_open(server, cookie)
        snapshot = await ws_receive(ws)
        stack.manage("shell", "-c", publisher, REDIS_URL=own_redis)
        before = await ws_next_event(ws, 30)
        await asyncio.to_thread(_redis_stop)
        await asyncio.to_thread(_redis_start)  # back, empty
        back = time.monotonic()
        after = await ws_next_event(ws, 3)
        while after["epoch"] == before["epoch"]:  # sent before the restart, still on its way
            after = await ws_next_event(ws, 3 - (time.monotonic() - back))
        waited = time.monotonic() - back
        await ws.close()
        return {"snapshot": snapshot, "before": before, "after": after, "waited": waited}

    result = asyncio.run(scenario())
    group = f"ward.{OWN}"
    before, after = result["before"], result["after"]
    assert (before["group"], before["seq"]) == (group, result["snapshot"]["seq"][group] + 1)
    assert before["seq"] > 1000
    assert before["epoch"]
    # Numbered from the start again, which the browser would have dropped as old (not
    # above the last it saw): the new epoch tells it the counter restarted, and live.js
    # resyncs instead. (Messages published before the pub/sub layer has subscribed again,
    # within about a second of Redis' return, are lost: that resync recovers them.)
    assert after["group"] == group and after["seq"] < before["seq"]
    assert after["epoch"] and after["epoch"] != before["epoch"]
    assert result["waited"] < 3
