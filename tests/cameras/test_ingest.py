"""POST /api/v1/ingest/events (DESIGN.md contract) and the processing of accepted batches."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cameras.choices import DeviceStatus
from cameras.models import Device, DeviceEvent, Gateway, IngestBatch, Reading, StatusChange
from cameras.services import (
    devices_offline_sweep,
    ingest_accept,
    ingest_batch_process,
    ingest_purge,
    ingest_sweep,
)
from cameras.services.devices import device_delete
from cameras.services.ingest.validation import IngestRejected, ParsedEvent
from cameras.services.registry import token_issue
from ioc import ratelimit
from ioc.choices import AlertStatus
from ioc.models import Alert
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import GroupListener, example_device, example_user, gateway_code

URL = "/api/v1/ingest/events"
VN = "+07:00"
T0 = datetime(2026, 11, 21, 8, 0, 0).astimezone()


def iso(moment: datetime) -> str:
    return moment.isoformat()


def event(device: str, event_id: str, type_: str = "heartbeat", **data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "device": device,
        "ts": "2026-11-21T08:00:00+07:00",
        "type": type_,
        "data": data,
    }


def at(item: dict[str, Any], moment: datetime) -> dict[str, Any]:
    return {**item, "ts": moment.isoformat()}


@pytest.fixture(autouse=True)
def _fresh_rate_windows() -> None:
    """Rate-limit windows live in the cache; each test starts with none used."""
    cache.clear()


@pytest.fixture
def gateway_token(demo_city: Any) -> str:
    return token_issue(owner=Gateway.objects.get(code=gateway_code(OWN)), actor_label="test")


@pytest.fixture
def aq(demo_city: Any) -> Device:
    """An air-quality sensor of official1's ward's gateway, with pm25 > 50 for 120 s alerting."""
    device = Device.objects.filter(code__startswith="AQ-", gateway__code=gateway_code(OWN)).first()
    if device is None:  # the demo puts no air station there: move one in
        device = Device.objects.get(code="AQ-001")
        device.gateway = Gateway.objects.get(code=gateway_code(OWN))
        device.save(update_fields=["gateway"])
    return fresh(device)


def fresh(device: Device) -> Device:
    """A device that has never reported (so test times are never older than its state)."""
    Device.objects.filter(pk=device.pk).update(
        last_seen_at=None, last_received_at=None, status=DeviceStatus.ONLINE, latest={}
    )
    device.refresh_from_db()
    return device


@pytest.fixture
def camera(demo_city: Any) -> Device:
    return fresh(example_device(OWN))


def post(token: str | None, body: Any, scheme: str = "Gateway", **extra: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}"} if token else {}
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Client().post(URL, raw, content_type="application/json", **headers, **extra)


def send(token: str, events: list[dict[str, Any]], capture: Any) -> Any:
    """Post a batch, then process what was accepted as a worker would.

    The queueing after commit is captured, not run: these tests are about what accepting
    and processing do, whichever broker the settings name. Real workers are exercised in
    tests/cameras/test_ingest_integration.py.
    """
    with capture(execute=False) as queued:
        response = post(token, {"events": events})
    assert response.status_code == 202, response.content
    if response.json()["accepted"]:
        assert len(queued) == 1, "an accepted batch queues exactly one processing task"
    for batch_id in IngestBatch.objects.filter(processed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        with capture(execute=True):
            ingest_batch_process(batch_id)
    assert not IngestBatch.objects.filter(processed_at__isnull=True).exists()
    return response


# --- The contract ---------------------------------------------------------------------------


def test_batch_is_accepted_and_a_retry_counts_duplicates(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    events = [event(camera.code, f"hb-{n}") for n in range(3)]
    first = send(gateway_token, events, django_capture_on_commit_callbacks)
    assert first.json() == {"accepted": 3, "duplicates": 0}
    again = send(
        gateway_token, [*events, event(camera.code, "hb-3")], django_capture_on_commit_callbacks
    )
    assert again.json() == {"accepted": 1, "duplicates": 3}
    assert DeviceEvent.objects.filter(device=camera).count() == 4


def test_same_event_twice_in_one_batch_is_stored_once(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    response = send(
        gateway_token,
        [event(camera.code, "x"), event(camera.code, "x")],
        django_capture_on_commit_callbacks,
    )
    assert response.json() == {"accepted": 1, "duplicates": 1}
    assert DeviceEvent.objects.filter(device=camera, event_id="x").count() == 1


@pytest.mark.parametrize(
    "header",
    [None, "Gateway", "Gateway not-a-token", "Bearer abc", "Device " + "x" * 300],
)
def test_missing_or_unknown_token_gets_401_json(demo_city: Any, header: str | None) -> None:
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = Client().post(URL, b'{"events": []}', content_type="application/json", **extra)
    assert response.status_code == 401
    assert "Authorization" in response.json()["detail"]
    assert "Device" in response["WWW-Authenticate"]


def test_device_token_may_push_only_for_its_device(camera: Device, demo_city: Any) -> None:
    token = token_issue(owner=camera, actor_label="test")
    other = Device.objects.exclude(pk=camera.pk).first()
    assert other is not None
    response = post(
        token, {"events": [event(camera.code, "a"), event(other.code, "b")]}, scheme="Device"
    )
    assert response.status_code == 403
    assert response.json()["devices"] == [other.code]
    assert not DeviceEvent.objects.filter(event_id__in=["a", "b"]).exists()
    assert post(token, {"events": [event(camera.code, "a")]}, scheme="Device").status_code == 202


def test_gateway_may_not_push_for_another_wards_device_or_unknown_codes(gateway_token: str) -> None:
    foreign = Device.objects.filter(ward__code=OTHER).first()
    assert foreign is not None
    response = post(gateway_token, {"events": [event(foreign.code, "a"), event("NO-SUCH", "b")]})
    assert response.status_code == 403
    assert response.json()["devices"] == sorted([foreign.code, "NO-SUCH"])
    assert DeviceEvent.objects.count() == 0


def test_retired_gateway_token_stops_working(gateway_token: str, camera: Device) -> None:
    Gateway.objects.filter(code=gateway_code(OWN)).update(is_active=False)
    assert post(gateway_token, {"events": [event(camera.code, "a")]}).status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe garbage", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"events": {}}', "JSON object"),
        (b'{"events": []}', "no events"),
    ],
)
def test_malformed_bodies_get_400_with_a_message(
    gateway_token: str, body: bytes, message: str
) -> None:
    response = post(gateway_token, body)
    assert response.status_code == 400
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ts": "2026-11-21T08:00:00"}, "ts"),
        ({"ts": "yesterday"}, "ts"),
        ({"ts": "2099-01-01T00:00:00+07:00"}, "ts"),
        ({"id": ""}, "id"),
        ({"id": 42}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"type": "gossip"}, "type"),
        ({"data": [1, 2]}, "data"),
        ({"type": "reading", "data": {"pm25": "high"}}, "data"),
        ({"type": "reading", "data": {"ok": True}}, "data"),
        ({"data": {"note": "nul \u0000 byte"}}, "event"),
    ],
)
def test_each_bad_event_is_reported_and_nothing_is_stored(
    gateway_token: str, camera: Device, change: dict[str, Any], field: str
) -> None:
    good = event(camera.code, "good")
    bad = {**event(camera.code, "bad"), **change}
    response = post(gateway_token, {"events": [good, bad]})
    assert response.status_code == 400
    body = response.json()
    assert "nothing was stored" in body["detail"]
    assert body["errors"][0]["index"] == 1
    assert field in body["errors"][0]["errors"]
    assert DeviceEvent.objects.count() == 0


def nested(depth: int) -> dict[str, Any]:
    """A ``data`` object nested ``depth`` levels deep."""
    data: dict[str, Any] = {"v": 1}
    for _level in range(depth - 1):
        data = {"n": data}
    return data


# What storage or processing would refuse, or what would break the device for good.
@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"ts": "0001-01-01T00:00:00+07:00"}, "ts", "before 2000"),
        ({"ts": "1999-12-31T23:59:59+00:00"}, "ts", "before 2000"),
        ({"ts": "in ten minutes"}, "ts", "in the future"),
        ({"type": "status", "data": {"mode": "semi-automatic"}}, "data", "'mode'"),
        ({"type": "status", "data": {"plan": "P" * 33}}, "data", "'plan'"),
        ({"type": "status", "data": {"phase": "2" * 33}}, "data", "'phase'"),
        ({"data": nested(254)}, "data", "nested"),
        ({"data": nested(17)}, "data", "nested"),
        ({"data": {"note": "x" * 70_000}}, "data", "larger than 64 KB"),
    ],
)
def test_what_storage_would_refuse_is_refused_at_the_door_naming_the_event(
    gateway_token: str, camera: Device, change: dict[str, Any], field: str, says: str
) -> None:
    if change.get("ts") == "in ten minutes":
        change = {"ts": iso(timezone.now() + timedelta(minutes=10))}
    body = {"events": [event(camera.code, "good"), {**event(camera.code, "bad"), **change}]}
    response = post(gateway_token, json.dumps(body).encode())  # orjson stops at 255 levels
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["index"], error["id"]) == (1, "bad")
    assert says in error["errors"][field]
    assert DeviceEvent.objects.count() == 0


def test_a_clock_a_little_ahead_and_data_16_levels_deep_are_accepted(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    soon = at(event(camera.code, "soon"), timezone.now() + timedelta(minutes=2))
    deep = {**event(camera.code, "deep"), "data": nested(16)}
    send(gateway_token, [soon, deep], django_capture_on_commit_callbacks)
    assert DeviceEvent.objects.filter(device=camera).count() == 2
    settings.IOC_INGEST_MAX_FUTURE_SECONDS = 30  # the window is a setting
    later = at(event(camera.code, "later"), timezone.now() + timedelta(minutes=2))
    assert post(gateway_token, {"events": [later]}).status_code == 400


def test_vietnamese_text_and_odd_unicode_are_stored_as_sent(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    data = {"note": "Ngập nước đường Lương Ngọc Quyến 🌧️", "zw": "a\u200bb"}
    send(
        gateway_token, [event(camera.code, "sự-kiện-1", **data)], django_capture_on_commit_callbacks
    )
    stored = DeviceEvent.objects.get(device=camera, event_id="sự-kiện-1")
    assert stored.data == data


@pytest.mark.parametrize("event_id", ["\\N", "tab\there", "line\nbreak\r", "back\\slash"])
def test_ids_and_text_with_copy_control_characters_are_stored_as_sent(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any, event_id: str
) -> None:
    # On PostgreSQL events go in through COPY's text format, where these characters (and
    # a lone \N, its NULL) mean something: they must come out as sent.
    data = {"note": "a\tb\\nc\nd \\N", "quote": 'say "hi"', "level": 1.5}
    response = send(
        gateway_token, [event(camera.code, event_id, **data)], django_capture_on_commit_callbacks
    )
    assert response.json() == {"accepted": 1, "duplicates": 0}
    stored = DeviceEvent.objects.get(device=camera, event_id=event_id)
    assert stored.data == data
    again = send(
        gateway_token, [event(camera.code, event_id, **data)], django_capture_on_commit_callbacks
    )
    assert again.json() == {"accepted": 0, "duplicates": 1}


def test_more_than_1000_events_is_413(gateway_token: str, camera: Device) -> None:
    response = post(gateway_token, {"events": [event(camera.code, str(n)) for n in range(1001)]})
    assert response.status_code == 413
    assert "1000" in response.json()["detail"]


def test_body_over_5_mb_is_413_before_parsing(gateway_token: str) -> None:
    response = post(gateway_token, b"{" + b" " * (5 * 1024 * 1024 + 10) + b"}")
    assert response.status_code == 413
    assert "5 MB" in response.json()["detail"]


def test_too_many_requests_per_token_is_429(
    gateway_token: str, camera: Device, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IOC_INGEST_REQUESTS_PER_SECOND = 2
    # The four requests fall in one window whatever the machine's speed: the limiter's clock
    # stands still (left running, two slow requests a second pass the limit honestly).
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_000.5))
    answers = [post(gateway_token, {"events": [event(camera.code, f"r{n}")]}) for n in range(4)]
    assert [answer.status_code for answer in answers] == [202, 202, 429, 429]
    refused = answers[2:]
    assert refused[0]["Retry-After"] == "1"
    assert "slow down" in refused[0].json()["detail"]
    assert DeviceEvent.objects.filter(event_id__startswith="r").count() == 4 - len(refused)


def test_get_is_refused_as_json(demo_city: Any) -> None:
    response = Client().get(URL)
    assert response.status_code == 405
    assert "detail" in response.json()


# --- Processing -----------------------------------------------------------------------------


def test_readings_update_latest_state_and_bring_a_device_online(
    gateway_token: str, aq: Device, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    Device.objects.filter(pk=aq.pk).update(
        status=DeviceStatus.OFFLINE, last_seen_at=T0 - timedelta(hours=1)
    )
    ward = listener.join(f"ward.{aq.ward.code}")
    send(
        gateway_token,
        [at(event(aq.code, "r1", "reading", pm25=12.5, pm10=30), T0)],
        django_capture_on_commit_callbacks,
    )
    aq.refresh_from_db()
    assert aq.status == DeviceStatus.ONLINE
    assert aq.latest == {"pm25": 12.5, "pm10": 30.0}
    assert aq.last_seen_at == T0
    assert aq.last_received_at is not None and aq.last_received_at >= T0
    assert set(Reading.objects.filter(device=aq).values_list("metric", "value")) == {
        ("pm25", 12.5),
        ("pm10", 30.0),
    }
    assert StatusChange.objects.filter(device=aq, to_status="online").count() == 1
    types = {listener.receive(ward)["event"]["type"] for _ in range(2)}
    assert types == {"device.status", "device.reading"}


def test_an_older_event_is_stored_but_never_overwrites_newer_state(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    send(
        gateway_token,
        [at(event(aq.code, "new", "reading", pm25=20), T0)],
        django_capture_on_commit_callbacks,
    )
    send(
        gateway_token,
        [at(event(aq.code, "old", "reading", pm25=99), T0 - timedelta(minutes=5))],
        django_capture_on_commit_callbacks,
    )
    aq.refresh_from_db()
    assert aq.latest["pm25"] == 20
    assert aq.last_seen_at == T0
    assert Reading.objects.filter(device=aq, value=99).count() == 1


def test_threshold_alert_waits_for_its_tolerance_then_clears_itself(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    def reading(n: int, seconds: int, value: float) -> dict[str, Any]:
        return at(event(aq.code, f"t{n}", "reading", pm25=value), T0 + timedelta(seconds=seconds))

    send(gateway_token, [reading(1, 0, 60)], django_capture_on_commit_callbacks)
    assert not Alert.objects.filter(device=aq).exists()  # breach shorter than 120 s
    send(gateway_token, [reading(2, 130, 65)], django_capture_on_commit_callbacks)
    alert = Alert.objects.get(device=aq, cause="threshold:pm25")
    assert alert.status == AlertStatus.ACTIVE and alert.severity == "warning"
    send(gateway_token, [reading(3, 200, 70)], django_capture_on_commit_callbacks)
    assert Alert.objects.filter(device=aq).count() == 1  # refreshed, not raised again
    send(gateway_token, [reading(4, 300, 20)], django_capture_on_commit_callbacks)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.auto_cleared


def test_a_threshold_breach_raises_clears_and_starts_again_within_one_batch(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    """Within one batch a breach that lasts its tolerance raises, a return clears that
    alert, and a new breach starts without an alert; the rule keeps the last breach's
    start. Breaches that end before their tolerance look up no alert at all."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cameras.models import SensorThreshold

    def reading(n: int, seconds: int, value: float) -> dict[str, Any]:
        return at(event(aq.code, f"w{n}", "reading", pm25=value), T0 + timedelta(seconds=seconds))

    values = [(0, 60), (130, 65), (200, 20), (260, 70)]
    send(
        gateway_token,
        [reading(n, seconds, value) for n, (seconds, value) in enumerate(values)],
        django_capture_on_commit_callbacks,
    )
    alert = Alert.objects.get(device=aq, cause="threshold:pm25")
    assert alert.status == AlertStatus.RESOLVED and alert.auto_cleared
    rule = SensorThreshold.objects.get(device=aq, metric="pm25")
    assert rule.breach_since == T0 + timedelta(seconds=260)

    short = [(300, 20), (310, 61), (320, 20), (330, 62), (340, 20)]
    with CaptureQueriesContext(connection) as queries:
        send(
            gateway_token,
            [reading(10 + n, seconds, value) for n, (seconds, value) in enumerate(short)],
            django_capture_on_commit_callbacks,
        )
    alert_reads = [q["sql"] for q in queries.captured_queries if 'FROM "ioc_alert"' in q["sql"]]
    assert len(alert_reads) == 1  # which threshold alerts are open, once for the batch
    assert Alert.objects.filter(device=aq).count() == 1
    rule.refresh_from_db()
    assert rule.breach_since is None


def test_detection_raises_a_critical_alert_and_clears_when_inactive(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    send(
        gateway_token,
        [event(camera.code, "d1", "detection", kind="fire", confidence=0.9)],
        django_capture_on_commit_callbacks,
    )
    alert = Alert.objects.get(device=camera, cause="detection:fire")
    assert alert.severity == "critical" and alert.ward_id == camera.ward_id
    assert camera.name in alert.title
    assert alert.title.startswith("Phát hiện cháy")  # what was detected, in Vietnamese
    send(
        gateway_token,
        [event(camera.code, "d2", "detection", kind="fire", active=False)],
        django_capture_on_commit_callbacks,
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_fault_sets_fault_status_and_clearing_brings_it_back(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    send(
        gateway_token,
        [at(event(camera.code, "f1", "fault", code="tamper"), T0)],
        django_capture_on_commit_callbacks,
    )
    camera.refresh_from_db()
    assert camera.status == DeviceStatus.FAULT
    assert Alert.objects.filter(device=camera, cause="fault:tamper", status="active").exists()
    send(
        gateway_token,
        [
            at(
                event(camera.code, "f2", "fault", code="tamper", cleared=True),
                T0 + timedelta(seconds=5),
            )
        ],
        django_capture_on_commit_callbacks,
    )
    camera.refresh_from_db()
    assert camera.status == DeviceStatus.ONLINE
    assert not Alert.objects.filter(device=camera).exclude(status="resolved").exists()


def test_a_device_in_maintenance_stays_in_maintenance(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    Device.objects.filter(pk=camera.pk).update(status=DeviceStatus.MAINTENANCE)
    send(gateway_token, [event(camera.code, "h1")], django_capture_on_commit_callbacks)
    camera.refresh_from_db()
    assert camera.status == DeviceStatus.MAINTENANCE


def test_processing_a_batch_twice_stores_nothing_twice(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    send(
        gateway_token,
        [event(aq.code, "p1", "reading", pm25=10, pm10=11)],
        django_capture_on_commit_callbacks,
    )
    batch = IngestBatch.objects.get()
    assert batch.processed_at is not None
    assert ingest_batch_process(batch.pk).processed is False
    assert Reading.objects.filter(device=aq).count() == 2


def test_sweeper_requeues_batches_no_worker_processed(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # the queue lost the task
        post(gateway_token, {"events": [event(aq.code, "s1", "reading", pm25=10)]})
    batch = IngestBatch.objects.get()
    assert batch.processed_at is None
    assert ingest_sweep() == 0  # not stale yet
    IngestBatch.objects.filter(pk=batch.pk).update(
        last_queued_at=timezone.now() - timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert ingest_sweep() == 1
    assert len(queued) == 1
    batch.refresh_from_db()
    assert batch.last_queued_at > timezone.now() - timedelta(seconds=30)
    assert ingest_batch_process(batch.pk).processed
    assert ingest_sweep() == 0
    assert Reading.objects.filter(device=aq).count() == 1


def test_purge_deletes_only_old_processed_batches(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    send(gateway_token, [event(aq.code, "q1")], django_capture_on_commit_callbacks)
    assert ingest_purge() == 0
    IngestBatch.objects.update(processed_at=timezone.now() - timedelta(days=2))
    assert ingest_purge() == 1
    assert DeviceEvent.objects.filter(event_id="q1").exists()


def test_silent_device_goes_offline_once_and_returns_on_the_next_report(
    gateway_token: str, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    Device.objects.filter(pk=camera.pk).update(
        status=DeviceStatus.ONLINE,
        last_seen_at=now - timedelta(minutes=10),
        last_received_at=now - timedelta(minutes=10),
    )
    Device.objects.exclude(pk=camera.pk).update(last_seen_at=now, last_received_at=now)
    assert devices_offline_sweep(now=now) == [camera.code]
    assert devices_offline_sweep(now=now + timedelta(seconds=30)) == []  # debounced
    assert Alert.objects.filter(device=camera, cause="offline", status="active").count() == 1
    send(
        gateway_token,
        [{**event(camera.code, "back"), "ts": now.isoformat()}],
        django_capture_on_commit_callbacks,
    )
    camera.refresh_from_db()
    assert camera.status == DeviceStatus.ONLINE
    assert Alert.objects.get(device=camera, cause="offline").status == AlertStatus.RESOLVED


def test_device_online_within_tolerance_is_not_marked_offline(camera: Device) -> None:
    now = timezone.now()
    Device.objects.update(
        last_seen_at=now - timedelta(seconds=60),
        last_received_at=now - timedelta(seconds=60),
        status="online",
    )
    assert devices_offline_sweep(now=now) == []


def test_issue_token_prints_a_working_token_and_retires_the_old(camera: Device) -> None:
    old = token_issue(owner=camera, actor_label="test")
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_token", "--device", camera.code, stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert f"Authorization: Device {token}" in err.getvalue()
    assert Device.objects.get(pk=camera.pk).token_hash != token
    assert post(old, {"events": [event(camera.code, "a")]}, scheme="Device").status_code == 401
    assert post(token, {"events": [event(camera.code, "a")]}, scheme="Device").status_code == 202


def test_issue_token_for_an_unknown_code_says_so(demo_city: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No gateway"):
        call_command("issue_token", "--gateway", "NOPE")


def test_metric_names_that_could_break_storage_are_not_series(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    send(
        gateway_token,
        [event(aq.code, "m1", "reading", **{"pm25": 5, "bad\tname": 1, "x\\y": 2, "nhiệt_độ": 30})],
        django_capture_on_commit_callbacks,
    )
    assert set(Reading.objects.filter(device=aq).values_list("metric", flat=True)) == {
        "pm25",
        "nhiệt_độ",
    }
    assert DeviceEvent.objects.get(device=aq, event_id="m1").data["bad\tname"] == 1


def test_one_transaction_takes_several_pending_batches(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        for n in range(3):
            post(gateway_token, {"events": [event(aq.code, f"g{n}", "reading", pm25=n)]})
    first, *others = IngestBatch.objects.order_by("pk").values_list("pk", flat=True)
    assert ingest_batch_process(first).processed
    assert not IngestBatch.objects.filter(processed_at__isnull=True).exists()
    assert all(not ingest_batch_process(pk).processed for pk in others)
    assert Reading.objects.filter(device=aq).count() == 3


# --- The outbox carries its events (the worker never reads them back) -----------------------


def test_a_reading_event_is_stored_as_its_readings_once_and_the_worker_reads_nothing_back(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    """A reading event is stored, when accepted, as its readings alone (each with the
    event's id; no device event row); the one sent again is a duplicate; the worker takes
    what it needs from the outbox row and neither reads nor writes events or readings."""
    send(
        gateway_token,
        [event(aq.code, "old", "reading", pm25=1)],
        django_capture_on_commit_callbacks,
    )
    with django_capture_on_commit_callbacks(execute=False):
        response = post(
            gateway_token,
            {
                "events": [
                    event(aq.code, "old", "reading", pm25=1),  # stored already
                    at(event(aq.code, "n1", "reading", pm25=7, pm10=9), T0 + timedelta(seconds=5)),
                    at(event(aq.code, "n1", "reading", pm25=7, pm10=9), T0 + timedelta(seconds=5)),
                ]
            },
        )
    assert response.json() == {"accepted": 1, "duplicates": 2}
    assert not DeviceEvent.objects.filter(device=aq).exists()
    stored = Reading.objects.filter(device=aq)
    assert sorted(stored.values_list("event_id", "metric", "value", "ts")) == [
        ("n1", "pm10", 9.0, T0 + timedelta(seconds=5)),
        ("n1", "pm25", 7.0, T0 + timedelta(seconds=5)),
        ("old", "pm25", 1.0, T0),
    ]
    batch = IngestBatch.objects.get(processed_at__isnull=True)
    assert batch.events == []
    [(pk, device_id, event_id, kind, ts, data)] = orjson.loads(batch.payload)
    assert (pk, device_id, event_id, kind, data) == (
        None,
        aq.pk,
        "n1",
        "reading",
        {"pm25": 7, "pm10": 9},
    )
    assert datetime.fromisoformat(ts) == T0 + timedelta(seconds=5)

    tables = (DeviceEvent._meta.db_table, f"{Reading._meta.db_table} ")
    with CaptureQueriesContext(connection) as queries:
        assert ingest_batch_process(batch.pk).processed
    assert not [q["sql"] for q in queries if any(table in q["sql"] for table in tables)]
    assert stored.count() == 3
    aq.refresh_from_db()
    assert aq.latest == {"pm25": 7.0, "pm10": 9.0}
    assert aq.last_seen_at == T0 + timedelta(seconds=5)


def test_a_reading_with_other_data_is_kept_whole_as_an_event_too(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    """Data a reading carries besides its numbers (a unit, a flag) is not a series: the
    event is kept whole as a device event as well, so nothing sent is lost; sent again it
    is a duplicate of both."""
    sent = event(aq.code, "r-unit", "reading", pm25=12.5)
    sent["data"]["unit"] = "µg/m³"
    assert send(gateway_token, [sent], django_capture_on_commit_callbacks).json() == {
        "accepted": 1,
        "duplicates": 0,
    }
    assert send(gateway_token, [sent], django_capture_on_commit_callbacks).json() == {
        "accepted": 0,
        "duplicates": 1,
    }
    kept = DeviceEvent.objects.get(device=aq)
    assert (kept.event_id, kept.data) == ("r-unit", {"pm25": 12.5, "unit": "µg/m³"})
    assert list(Reading.objects.filter(device=aq).values_list("event_id", "metric", "value")) == [
        ("r-unit", "pm25", 12.5)
    ]
    aq.refresh_from_db()
    assert aq.latest == {"pm25": 12.5}


def test_event_ids_with_copy_s_special_characters_are_stored_as_sent(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    """COPY's text format gives tabs, newlines and backslashes a meaning: an id holding
    them is stored exactly, and is a duplicate when sent again."""
    odd = ["tab\there", "line\nbreak", "back\\slash\\N", "crlf\r\n", "\\N"]
    events = [
        at(event(aq.code, ident, "reading", pm25=n), T0 + timedelta(seconds=n))
        for n, ident in enumerate(odd)
    ]
    assert send(gateway_token, events, django_capture_on_commit_callbacks).json()["accepted"] == 5
    assert sorted(Reading.objects.filter(device=aq).values_list("event_id", flat=True)) == sorted(
        odd
    )
    assert send(gateway_token, events, django_capture_on_commit_callbacks).json() == {
        "accepted": 0,
        "duplicates": 5,
    }


def test_a_batch_without_payload_is_processed_from_its_stored_events_once(aq: Device) -> None:
    """An outbox row of an older version (or an administrator's replay) names its events
    only, reading events among them kept as rows whose readings were never written: the
    worker reads them back and writes their readings, and a second delivery of its task
    adds nothing."""
    stored = DeviceEvent.objects.create(
        device=aq,
        event_id="r1",
        type="reading",
        ts=T0,
        received_at=T0,
        data={"pm25": 12, "pm10": 3},
    )
    batch = IngestBatch.objects.create(
        received_at=T0, source="gateway:old", events=[stored.pk], payload=""
    )

    assert ingest_batch_process(batch.pk).processed
    assert ingest_batch_process(batch.pk).processed is False
    assert ingest_batch_process(batch.pk, retry=True).processed is False  # the sweeper's
    assert sorted(Reading.objects.filter(device=aq).values_list("event_id", "metric", "value")) == [
        ("r1", "pm10", 3.0),
        ("r1", "pm25", 12.0),
    ]
    aq.refresh_from_db()
    assert aq.latest == {"pm25": 12.0, "pm10": 3.0}
    # replayed once more (an administrator's replay of the same event): nothing twice
    again = IngestBatch.objects.create(received_at=T0, source="replay", events=[stored.pk])
    assert ingest_batch_process(again.pk).processed
    assert Reading.objects.filter(device=aq).count() == 2


def test_a_batch_posted_again_and_its_task_delivered_twice_is_counted_once(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    """The gateway retries the whole request (its answer was lost) while the first
    delivery's task is redelivered and the sweeper re-queues it too: one outbox row, its
    readings once, one attempt counted per run that started."""
    events = [event(aq.code, f"e{n}", "reading", pm25=n) for n in range(3)]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = post(gateway_token, {"events": events})
        again = post(gateway_token, {"events": events})
    assert (first.json(), again.json()) == (
        {"accepted": 3, "duplicates": 0},
        {"accepted": 0, "duplicates": 3},
    )
    assert len(queued) == 1  # nothing new, nothing queued
    batch = IngestBatch.objects.get()
    assert ingest_batch_process(batch.pk, retry=True).processed  # the sweeper's, first
    assert ingest_batch_process(batch.pk).processed is False  # the original task
    assert ingest_batch_process(batch.pk).processed is False  # redelivered
    assert Reading.objects.filter(device=aq).count() == 3
    assert IngestBatch.objects.get().attempts == 1


def test_deleting_a_device_deletes_its_readings_and_events(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    """The events and readings tables keep no foreign key in the database (its check cost
    ingest as much as the row): deleting a device still takes its history with it."""
    send(
        gateway_token,
        [event(aq.code, "d1", "reading", pm25=5), event(aq.code, "d2", "heartbeat")],
        django_capture_on_commit_callbacks,
    )
    assert Reading.objects.filter(device_id=aq.pk).exists()
    device_delete(actor=example_user("admin"), device=aq)
    assert not Reading.objects.filter(device_id=aq.pk).exists()
    assert not DeviceEvent.objects.filter(device_id=aq.pk).exists()


def test_events_of_a_device_deleted_after_the_check_are_refused_not_stored(
    aq: Device, django_capture_on_commit_callbacks: Any
) -> None:
    """A device deleted between the batch's check and its storing: nothing of the batch is
    stored (the database no longer checks a foreign key), the answer is a 403."""
    checked = ParsedEvent(aq.pk, aq.code, "late", "reading", T0, {"pm25": 1.0})
    device_delete(actor=example_user("admin"), device=aq)
    with pytest.raises(IngestRejected) as refused:
        ingest_accept(events=[checked], source="test")
    assert refused.value.status == 403
    assert refused.value.body["devices"] == [aq.code]
    assert not DeviceEvent.objects.filter(event_id="late").exists()
    assert not IngestBatch.objects.exists()


# --- The hot path's shortcuts say what the close look says ------------------------------


def _parse_both(raw: dict[str, Any], aq: Device) -> tuple[Any, Any]:
    """One event through the plain path (a body without NUL) and the close look (a body
    that may hold one): each a parsed event's fields and series, or the refusal's body."""
    from cameras.principals import Principal
    from cameras.services.ingest.validation import ingest_parse, numeric_values

    principal = Principal("gateway", aq.gateway.code, aq.gateway_id)
    outcomes = []
    for may_hold_nul in (False, True):
        try:
            [parsed] = ingest_parse({"events": [raw]}, principal, may_hold_nul=may_hold_nul)
        except IngestRejected as exc:
            outcomes.append(exc.body)
        else:
            values = parsed.values if parsed.values is not None else numeric_values(parsed.data)
            outcomes.append((parsed[:6], values if parsed.type == "reading" else {}))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize(
    ("ts", "type_", "data"),
    [
        ("2026-11-21T08:00:00+07:00", "reading", {"pm25": 35.2, "pm10": 61}),
        ("2026-11-21T01:00:00Z", "reading", {"pm25": 0}),
        ("2026-11-21T08:00:00.123456789+07:00", "reading", {"pm25": 1.5}),
        ("2026-11-21T08:00:00", "reading", {"pm25": 1}),  # no offset
        ("1999-12-31T23:59:59+07:00", "reading", {"pm25": 1}),
        ("2099-01-01T00:00:00+07:00", "reading", {"pm25": 1}),
        ("yesterday", "reading", {"pm25": 1}),
        ("2026-11-21T08:00:00+07:00", "reading", {"pm25": 10**20}),  # past 64 bits
        ("2026-11-21T08:00:00+07:00", "reading", {"pm25": -(2**63)}),
        ("2026-11-21T08:00:00+07:00", "reading", {"pm25": True}),
        ("2026-11-21T08:00:00+07:00", "reading", {"pm25": 3, "unit": "µg/m³"}),
        ("2026-11-21T08:00:00+07:00", "reading", {"pm 2.5": 3}),
        ("2026-11-21T08:00:00+07:00", "reading", {"pm 2.5": 3, "pm10": 4}),
        ("2026-11-21T08:00:00+07:00", "reading", {"x" * 33: 3}),
        ("2026-11-21T08:00:00+07:00", "reading", {f"m{n}": n for n in range(300)}),
        ("2026-11-21T08:00:00+07:00", "reading", {}),
        ("2026-11-21T08:00:00+07:00", "reading", {"pm25": {"value": 3}}),
        ("2026-11-21T08:00:00+07:00", "heartbeat", {}),
        ("2026-11-21T08:00:00+07:00", "heartbeat", {"uptime": 5}),
        ("2026-11-21T08:00:00+07:00", "status", {"status": "online"}),
        ("2026-11-21T08:00:00+07:00", "gossip", {}),
    ],
)
def test_the_plain_path_accepts_and_refuses_what_the_close_look_does(
    aq: Device, ts: str, type_: str, data: dict[str, Any]
) -> None:
    raw = {"id": "e-1", "device": aq.code, "ts": ts, "type": type_, "data": data}
    plain, close = _parse_both(raw, aq)
    assert plain == close


@pytest.mark.parametrize(
    "raw",
    [
        {"id": "", "device": "AQ", "ts": "2026-11-21T08:00:00+07:00", "type": "reading"},
        {"id": "x" * 65, "device": "AQ", "ts": "2026-11-21T08:00:00+07:00", "type": "reading"},
        {"id": 7, "device": "AQ", "ts": "2026-11-21T08:00:00+07:00", "type": "heartbeat"},
        {"id": "e", "device": None, "ts": "2026-11-21T08:00:00+07:00", "type": "heartbeat"},
        {"id": "e", "device": "AQ", "ts": 1700000000, "type": "heartbeat"},
        {
            "id": "e",
            "device": "AQ",
            "ts": "2026-11-21T08:00:00+07:00",
            "type": "heartbeat",
            "data": [],
        },
        {"id": "e", "device": "AQ", "ts": "2026-11-21T08:00:00+07:00", "type": "heartbeat"},
    ],
)
def test_the_plain_path_and_the_close_look_agree_on_fields(aq: Device, raw: dict[str, Any]) -> None:
    if raw["device"] == "AQ":
        raw = {**raw, "device": aq.code}
    plain, close = _parse_both(raw, aq)
    assert plain == close


def test_a_worker_starts_on_a_batch_once_it_is_old_enough_and_takes_those_accepted_meanwhile(
    gateway_token: str, aq: Device, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    """A worker's first delivery waits until its batch is IOC_INGEST_WORKER_GATHER_MS old
    and takes the batches accepted meanwhile in the same transaction; the delivery of a
    batch processed with another costs no wait."""
    import time

    from cameras.tasks import ingest_batch_task

    settings.IOC_INGEST_WORKER_GATHER_SECONDS = 0.5
    with django_capture_on_commit_callbacks(execute=False):
        post(gateway_token, {"events": [event(aq.code, "g1", "reading", pm25=1)]})
        post(
            gateway_token,
            {"events": [at(event(aq.code, "g2", "reading", pm25=2), T0 + timedelta(seconds=1))]},
        )
    first, second = IngestBatch.objects.order_by("pk")
    # the first was accepted just now (whatever the machine's speed): a wait of about 0.5 s
    IngestBatch.objects.filter(pk=first.pk).update(received_at=timezone.now())
    began = time.monotonic()
    assert ingest_batch_task(first.pk)
    assert time.monotonic() - began >= 0.4
    processed = list(IngestBatch.objects.order_by("pk").values_list("processed_at", flat=True))
    assert processed[0] is not None and processed == [processed[0]] * 2  # one transaction
    began = time.monotonic()
    assert ingest_batch_task(second.pk) is False  # processed with the first: no wait
    assert time.monotonic() - began < 0.3
    IngestBatch.objects.update(processed_at=None)
    IngestBatch.objects.filter(pk=first.pk).update(
        received_at=timezone.now() - timedelta(seconds=5)
    )
    began = time.monotonic()
    assert ingest_batch_task(first.pk)  # older than the window: at once
    assert time.monotonic() - began < 0.3
