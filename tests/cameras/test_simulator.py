"""The simulated city (``manage.py simulate``): its behaviour model with a made-up clock, its
device endpoints, its delivery to the ingest API, and one run against a live stack."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image

from cameras.models import Device, DeviceEvent, Gateway, Reading
from cameras.principals import Principal
from cameras.services.ingest.validation import ingest_parse
from cameras.simulator import runner
from cameras.simulator.app import DeviceEndpoints
from cameras.simulator.model import (
    DETECTION_KINDS,
    AirSensor,
    Camera,
    City,
    DeviceSpec,
    WaterGauge,
)
from cameras.simulator.pusher import HttpAnswer, Pusher
from ioc.demo.data import DEMO_GATEWAY_PREFIX
from ioc.models import AuditEntry
from tests.support import GatewayFactory, free_port, process_env, wait_for

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 21, 10, 0).timestamp()  # a weekday morning, off-peak


def run_city(city: City, seconds: float, *, start: float = T0, step: float = 0.25) -> list:
    """Tick ``city`` from ``start`` for ``seconds``; every (gateway, event) it emitted."""
    events = []
    for n in range(int(seconds / step) + 1):
        events.extend(city.tick(start + n * step))
    return events


def small_city(**options: Any) -> City:
    specs = [
        DeviceSpec("CAM-1", "camera", "GW-A", 60),
        DeviceSpec("CAM-2", "camera", "GW-A", 60),
        DeviceSpec("AQ-001", "sensor", "GW-A", 60),
        DeviceSpec("WL-001", "sensor", "GW-B", 60),
        DeviceSpec("SIG-001", "signal", "GW-B", 30),
    ]
    options.setdefault("seed", 3)
    options.setdefault("start", T0)
    return City(specs, **options)


def of(events: list, code: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [e for _gw, e in events if e["device"] == code and (kind is None or e["type"] == kind)]


@pytest.fixture
def demo_city_model(demo_city: None) -> City:
    return City(runner.demo_device_specs(), seed=11, start=T0)


# --- Behaviour model ------------------------------------------------------------------------


def test_events_are_valid_for_the_ingest_contract(demo_city_model: City) -> None:
    city = demo_city_model
    camera = next(d for d in city.devices.values() if isinstance(d, Camera))
    camera.start_detection(T0, 30)
    next(iter(city.devices.values())).start_fault(T0, 20)
    events = run_city(city, 120)
    by_gateway: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for gateway, event in events:
        by_gateway[gateway].append(event)
    gateways = dict(Gateway.objects.values_list("code", "pk"))

    parsed = 0
    for code, batch in by_gateway.items():
        for start in range(0, len(batch), 1000):
            chunk = batch[start : start + 1000]
            parsed += len(
                ingest_parse({"events": chunk}, Principal("gateway", code, gateways[code]))
            )

    assert parsed == len(events)
    assert {e["type"] for _gw, e in events} == {
        "heartbeat",
        "reading",
        "status",
        "detection",
        "fault",
    }
    assert all(gateway.startswith(DEMO_GATEWAY_PREFIX) for gateway in by_gateway)


def test_every_demo_device_reports_within_its_first_heartbeat(demo_city_model: City) -> None:
    events = run_city(demo_city_model, 12)

    assert {e["device"] for _gw, e in events} == set(Device.objects.values_list("code", flat=True))


def test_timestamps_are_vietnam_time_with_offset() -> None:
    events = run_city(small_city(), 60)

    assert events
    for _gw, event in events:
        assert event["ts"].endswith("+07:00")
        ts = datetime.fromisoformat(event["ts"])
        assert ts.utcoffset() == timedelta(hours=7)
        assert T0 - 1 <= ts.timestamp() <= T0 + 61


def test_event_ids_are_unique_within_a_run_and_across_runs() -> None:
    first = [e["id"] for _gw, e in run_city(small_city(), 300)]
    second = [e["id"] for _gw, e in run_city(small_city(), 300)]  # same seed

    assert len(first) == len(set(first))
    assert not set(first) & set(second)
    assert all(0 < len(event_id) <= 64 for event_id in first)


def test_the_city_sends_about_the_requested_rate(demo_city_model: City) -> None:
    events = run_city(demo_city_model, 180, step=0.5)
    steady = [e for _gw, e in events if datetime.fromisoformat(e["ts"]).timestamp() >= T0 + 60]

    rate = len(steady) / 120
    assert 45 <= rate <= 75


def test_a_lower_rate_sends_fewer_readings(demo_city: None) -> None:
    slow = City(runner.demo_device_specs(), rate=15, seed=1, start=T0)

    events = run_city(slow, 120, step=0.5)

    assert len(events) / 120 < 25


def test_air_readings_walk_and_episodes_pass_the_limits() -> None:
    city = small_city(happenings=False)
    sensor = city.devices["AQ-001"]
    assert isinstance(sensor, AirSensor)

    quiet = of(run_city(city, 600), "AQ-001", "reading")
    sensor.start_episode(T0 + 600, 1800)
    episode = of(run_city(city, 900, start=T0 + 600), "AQ-001", "reading")

    assert all(set(e["data"]) == {"pm25", "pm10"} for e in quiet + episode)
    assert max(e["data"]["pm25"] for e in quiet) < 50
    assert episode[-1]["data"]["pm25"] > 50
    assert episode[-1]["data"]["pm10"] > 100


def test_water_level_stays_near_normal_and_floods_above_25() -> None:
    city = small_city(happenings=False)
    gauge = city.devices["WL-001"]
    assert isinstance(gauge, WaterGauge)

    quiet = of(run_city(city, 600), "WL-001", "reading")
    gauge.start_flood(T0 + 600, 3600)
    flood = of(run_city(city, 900, start=T0 + 600), "WL-001", "reading")

    assert all(21.8 <= e["data"]["water_level"] <= 24.2 for e in quiet)
    assert flood[-1]["data"]["water_level"] > 25


def test_signal_status_reflects_the_controller_state() -> None:
    city = small_city(happenings=False)
    controller = city.signal("SIG-001")
    assert controller is not None

    statuses = of(run_city(city, 120), "SIG-001", "status")
    assert controller.apply("set_plan", "P2", now=T0 + 121) is None
    after = of(run_city(city, 1, start=T0 + 121), "SIG-001", "status")

    assert len(statuses) >= 4  # a report on every phase change
    assert all(set(e["data"]) == {"mode", "plan", "phase", "faults"} for e in statuses)
    assert statuses[0]["data"]["mode"] == "auto"
    assert after[0]["data"]["mode"] == "manual"
    assert after[0]["data"]["plan"] == "P2"


def test_detections_start_and_end() -> None:
    city = small_city(happenings=False)
    camera = city.camera("CAM-1")
    assert camera is not None

    camera.start_detection(T0, 90)
    detections = of(run_city(city, 120), "CAM-1", "detection")

    assert [e["data"]["active"] for e in detections] == [True, False]
    assert detections[0]["data"]["kind"] in DETECTION_KINDS
    assert 0 < detections[0]["data"]["confidence"] < 1
    assert detections[1]["data"]["kind"] == detections[0]["data"]["kind"]


def test_faults_are_reported_then_cleared() -> None:
    city = small_city(happenings=False)
    city.devices["SIG-001"].start_fault(T0, 60)

    events = run_city(city, 90)
    faults = of(events, "SIG-001", "fault")
    statuses = of(events, "SIG-001", "status")

    assert faults[0]["data"]["message"]
    assert faults[1]["data"] == {"code": faults[0]["data"]["code"], "cleared": True}
    assert any(faults[0]["data"]["code"] in e["data"]["faults"] for e in statuses)
    assert statuses[-1]["data"]["faults"] == []


def test_an_outage_silences_a_device_long_enough_to_go_offline_then_it_returns() -> None:
    city = small_city(happenings=False)
    run_city(city, 30)
    city.devices["CAM-2"].start_outage(T0 + 30, 300)

    during = of(run_city(city, 299, start=T0 + 30.25), "CAM-2")
    back = of(run_city(city, 1, start=T0 + 331), "CAM-2")

    assert during == []
    assert back[0]["type"] == "heartbeat"


def test_random_happenings_occur_over_an_hour(demo_city_model: City) -> None:
    city = demo_city_model
    kinds: Counter[str] = Counter()
    silent: set[str] = set()
    for n in range(1800):
        now = T0 + 2.0 * n
        kinds.update(event["type"] for _gw, event in city.tick(now))
        silent.update(city.outages(now))

    assert kinds["detection"] >= 20
    assert kinds["fault"] >= 6
    assert 5 <= len(silent) <= 60


# --- Device endpoints -----------------------------------------------------------------------


def test_snapshot_is_a_real_jpeg_cached_per_second() -> None:
    clock = [T0]
    app = DeviceEndpoints(small_city(), clock=lambda: clock[0])

    first = app.respond("GET", "/cameras/CAM-1/snapshot.jpg")
    clock[0] += 0.5
    same_second = app.respond("GET", "/cameras/CAM-1/snapshot.jpg")
    clock[0] += 1
    next_second = app.respond("GET", "/cameras/CAM-1/snapshot.jpg")

    assert first.status == 200
    assert first.content_type == "image/jpeg"
    image = Image.open(io.BytesIO(first.body))
    image.load()
    assert image.format == "JPEG"
    assert image.size == (640, 360)
    assert same_second.body is first.body
    assert next_second.body != first.body


def test_health_answers_503_during_an_outage() -> None:
    city = small_city(happenings=False)
    app = DeviceEndpoints(city, clock=lambda: T0 + 10)

    assert app.respond("GET", "/cameras/CAM-1/health").status == 200
    city.devices["CAM-1"].start_outage(T0, 60)

    assert app.respond("GET", "/cameras/CAM-1/health").status == 503
    assert app.respond("GET", "/cameras/CAM-2/health").status == 200


def test_unknown_devices_and_bad_requests() -> None:
    app = DeviceEndpoints(small_city())

    assert app.respond("GET", "/cameras/NOPE/health").status == 404
    assert app.respond("GET", "/signals/CAM-1/state").status == 404  # not a signal
    assert app.respond("GET", "/cameras/SIG-001/health").status == 404  # not a camera
    assert app.respond("GET", "/elsewhere").status == 404
    assert app.respond("POST", "/signals/SIG-001/command", b"{not json").status == 400
    assert app.respond("POST", "/signals/SIG-001/command", b'["flash"]').status == 400
    refused = app.respond("POST", "/signals/SIG-001/command", b'{"action": "dance"}')
    assert refused.status == 400
    assert json.loads(refused.body)["accepted"] is False
    assert app.respond("GET", "/signals/SIG-001/command").status == 405


@pytest.fixture
def endpoints_url() -> Iterator[str]:
    """The device endpoints served by uvicorn in a thread, on a free port."""
    port = free_port()
    config = uvicorn.Config(
        DeviceEndpoints(small_city(start=time.time(), happenings=False)),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
    )
    server = runner.QuietServer(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: server.started, 10, "the device endpoints to start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def test_controller_applies_a_command_over_http(endpoints_url: str) -> None:
    with httpx.Client(base_url=endpoints_url, auth=("ops", "anything"), timeout=5) as client:
        applied = client.post("/signals/SIG-001/command", json={"action": "set_plan", "plan": "P2"})
        state = client.get("/signals/SIG-001/state")
        flashing = client.post("/signals/SIG-001/command", json={"action": "flash"})
        unknown = client.post("/signals/SIG-404/command", json={"action": "flash"})
        bad = client.post("/signals/SIG-001/command", content=b"plan=P2")
        health = client.get("/cameras/CAM-1/health")
        snapshot = client.get("/cameras/CAM-1/snapshot.jpg")

    assert applied.status_code == 200
    assert applied.json()["accepted"] is True
    assert applied.json()["state"]["mode"] == "manual"
    assert applied.json()["state"]["plan"] == "P2"
    assert state.json() == applied.json()["state"] | {"phase": state.json()["phase"]}
    assert flashing.json()["state"]["mode"] == "flash"
    assert flashing.json()["state"]["phase"] == "flash"
    assert unknown.status_code == 404
    assert bad.status_code == 400
    assert health.json() == {"status": "ok"}
    assert snapshot.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(snapshot.content)).format == "JPEG"


def test_controller_reverts_an_override_by_itself_when_the_platform_is_gone() -> None:
    city = small_city(happenings=False)
    controller = city.signal("SIG-001")
    assert controller is not None

    controller.apply("flash", now=T0, revert_after=60)
    run_city(city, 59)
    assert controller.state()["mode"] == "flash"
    run_city(city, 2, start=T0 + 59)

    assert controller.state()["mode"] == "auto"


# --- Delivery to the ingest API -------------------------------------------------------------


def test_pusher_retries_the_same_batch_after_errors_and_429() -> None:
    bodies: list[bytes] = []
    answers: list[Any] = [
        OSError("Connection refused"),
        HttpAnswer(429, b'{"detail": "slow down"}', retry_after=1.0),
        HttpAnswer(503, b"{}"),
        HttpAnswer(202, b'{"accepted": 2, "duplicates": 0}'),
    ]
    waits: list[float] = []

    def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
        assert url == "http://server/api/v1/ingest/events"
        assert headers["Authorization"] == "Gateway token-a"
        bodies.append(body)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    async def scenario() -> Pusher:
        pusher = Pusher("http://server/", {"GW-A": "token-a"}, post=post, sleep=no_wait, log=str)
        pusher.add("GW-A", {"id": "e1"})
        pusher.add("GW-A", {"id": "e2"})
        pusher.add("GW-X", {"id": "not ours"})  # no token for it: never sent
        pusher.flush()
        await pusher.drain(5)
        return pusher

    pusher = asyncio.run(scenario())

    assert len(bodies) == 4
    assert len(set(bodies)) == 1  # the same events, same ids, every time
    assert [e["id"] for e in json.loads(bodies[0])["events"]] == ["e1", "e2"]
    assert pusher.stats.retries == 3
    assert (pusher.stats.sent, pusher.stats.accepted) == (2, 2)
    assert waits == [2.0, 2.0, 4.0]
    assert pusher.backlog() == 0


def test_pusher_splits_batches_of_more_than_1000_and_drops_refused_ones() -> None:
    sizes: list[int] = []

    def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
        size = len(json.loads(body)["events"])
        sizes.append(size)
        if size < 1000:
            return HttpAnswer(400, b'{"detail": "bad"}')
        return HttpAnswer(202, b'{"accepted": 1000, "duplicates": 0}')

    async def scenario() -> Pusher:
        pusher = Pusher("http://server", {"GW-A": "t"}, post=post, log=str)
        for n in range(2500):
            pusher.add("GW-A", {"id": str(n)})
        pusher.flush()
        await pusher.drain(5)
        return pusher

    pusher = asyncio.run(scenario())

    assert sizes == [1000, 1000, 500]
    assert pusher.stats.rejected == 500
    assert pusher.stats.retries == 0


def test_listen_address_accepts_host_port_and_urls() -> None:
    assert runner.listen_address("127.0.0.1:8100") == ("127.0.0.1", 8100)
    assert runner.listen_address("http://127.0.0.1:8312") == ("127.0.0.1", 8312)
    assert runner.listen_address("[::1]:9000") == ("::1", 9000)


def test_tokens_are_issued_for_demo_gateways_only(demo_city: None) -> None:
    other = GatewayFactory(code="WARD-GW-1", name="Not a demo gateway")
    demo_codes = set(
        Gateway.objects.filter(code__startswith=DEMO_GATEWAY_PREFIX).values_list("code", flat=True)
    )

    tokens = runner.demo_gateway_tokens(demo_codes | {other.code})

    assert set(tokens) == demo_codes
    other.refresh_from_db()
    assert other.token_hash == ""
    assert AuditEntry.objects.filter(
        action="gateway.token_issued", actor_label="simulate"
    ).count() == len(demo_codes)
    with pytest.raises(ValueError):
        runner.gateway_token_issue(other.code)


# --- Against the live stack -----------------------------------------------------------------


@pytest.mark.integration
def test_simulate_feeds_a_live_server(asgi_server: str, celery_worker_process: Any) -> None:
    listen = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "simulate",
            "--url",
            asgi_server,
            "--listen",
            listen,
            "--duration",
            "15",
            "--seed",
            "7",
            "--rtsp-port",
            "0",  # no camera streams: they are tests/cameras/test_simulated_rtsp.py's
        ],
        cwd=ROOT,
        env=process_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    output = result.stdout.decode() + result.stderr.decode()

    assert result.returncode == 0, output
    assert "simulator:" in output
    assert "refused" not in output, output
    # heartbeats and the like as events; readings as their readings alone
    devices = len(
        set(DeviceEvent.objects.values_list("device", flat=True).distinct())
        | set(Reading.objects.values_list("device", flat=True).distinct())
    )
    assert devices >= 300, output
    assert Reading.objects.exclude(event_id="").filter(metric="pm25").exists()
    assert Reading.objects.filter(metric="water_level").exists()
