"""Accepted events processing cannot take (cameras.services.ingest.batch, .failures, .sweep):
set aside with their error while every other event goes on, never re-queued for ever,
replayed by an administrator once the cause is fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from cameras.choices import DeviceKind, EventType
from cameras.models import Device, DeviceEvent, IngestBatch, IngestFailure, Reading, SignalDetail
from cameras.services import (
    ingest_accept,
    ingest_batch_process,
    ingest_failures_replay,
    ingest_sweep,
)
from cameras.services.ingest import batch as batch_module
from cameras.services.ingest.validation import ParsedEvent
from ioc.models import Alert, AuditEntry
from tests.support import OWN_WARD, example_device, example_user

T0 = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def parsed(device: Device, event_id: str, kind: str, data: dict[str, Any], **extra: Any) -> Any:
    """An event as the API would have accepted it (or, with ``extra``, as it never would)."""
    values = {"ts": T0, **extra}
    return ParsedEvent(device.pk, device.code, event_id, kind, values["ts"], data)


def accept(*events: ParsedEvent, capture: Any) -> int:
    """Store a batch without processing it (its task is captured, not run)."""
    with capture(execute=False):
        result = ingest_accept(events=list(events), source="test")
    assert result.batch_id is not None
    return result.batch_id


def readings(device: Device) -> list[float]:
    return sorted(Reading.objects.filter(device=device).values_list("value", flat=True))


@pytest.fixture
def sensor(demo_city: Any) -> Device:
    device = Device.objects.filter(kind=DeviceKind.SENSOR).order_by("code").first()
    assert device is not None
    Device.objects.filter(pk=device.pk).update(last_seen_at=None, latest={})
    return device


@pytest.fixture
def camera(demo_city: Any) -> Device:
    device = example_device(OWN_WARD)
    Device.objects.filter(pk=device.pk).update(last_seen_at=None, latest={})
    return device


@pytest.fixture
def broken_fire_rule(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A bug in the detection rule that only fire detections meet; ``fix()`` deploys the fix."""
    real = batch_module.detection_apply

    def buggy(device: Device, data: dict[str, Any], ts: datetime) -> int:
        if data.get("kind") == "fire":
            raise KeyError("severity_matrix")
        return real(device, data, ts)

    monkeypatch.setattr(batch_module, "detection_apply", buggy)

    class Fix:
        @staticmethod
        def fix() -> None:
            monkeypatch.setattr(batch_module, "detection_apply", real)

    return Fix


def test_a_failing_event_is_set_aside_and_the_others_are_processed(
    sensor: Device,
    camera: Device,
    broken_fire_rule: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    poisoned = accept(
        parsed(sensor, "r1", EventType.READING, {"pm25": 11}),
        parsed(camera, "fire-1", EventType.DETECTION, {"kind": "fire"}),
        parsed(sensor, "r2", EventType.READING, {"pm25": 12}, ts=T0 + timedelta(seconds=5)),
        capture=django_capture_on_commit_callbacks,
    )
    behind = accept(
        parsed(sensor, "r3", EventType.READING, {"pm25": 13}, ts=T0 + timedelta(seconds=9)),
        capture=django_capture_on_commit_callbacks,
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert ingest_batch_process(poisoned).processed

    assert not IngestBatch.objects.filter(processed_at__isnull=True).exists()
    assert readings(sensor) == [11, 12, 13]
    failure = IngestFailure.objects.get()
    assert (failure.device, failure.sent_id, failure.batch_id) == (camera, "fire-1", poisoned)
    assert failure.error == "KeyError: 'severity_matrix'"
    assert IngestBatch.objects.get(pk=behind).attempts == 1


def test_a_set_aside_event_is_replayed_once_the_cause_is_fixed(
    camera: Device, broken_fire_rule: Any, django_capture_on_commit_callbacks: Any
) -> None:
    batch = accept(
        parsed(camera, "fire-1", EventType.DETECTION, {"kind": "fire"}),
        capture=django_capture_on_commit_callbacks,
    )
    ingest_batch_process(batch)
    assert not Alert.objects.filter(device=camera, cause="detection:fire").exists()
    broken_fire_rule.fix()

    with django_capture_on_commit_callbacks(execute=True) as queued:
        replay = ingest_failures_replay(
            actor=example_user("admin"), failures=IngestFailure.objects.all()
        )
    assert replay is not None and len(queued) >= 1  # queued, and processed in-process here
    if IngestBatch.objects.filter(pk=replay, processed_at__isnull=True).exists():
        ingest_batch_process(replay)  # with a broker the task was only queued

    assert not IngestFailure.objects.exists()
    assert Alert.objects.filter(device=camera, cause="detection:fire").exists()
    entry = AuditEntry.objects.get(action="ingest_batch.replayed")
    assert entry.actor == example_user("admin")
    assert entry.before["failures"][0]["event"] == "fire-1"


def test_a_reading_stored_as_its_readings_that_fails_is_kept_whole_and_replayed_once(
    sensor: Device, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """A reading event has no event row of its own: set aside, it is kept whole as one, so
    the failure can name it and a replay take it; its readings, stored when it was
    accepted, are neither lost nor written again."""
    real = batch_module.numeric_values

    def buggy(data: dict[str, Any]) -> dict[str, float]:
        if data.get("pm25") == 666:
            raise ValueError("calibration table missing")
        return real(data)

    monkeypatch.setattr(batch_module, "numeric_values", buggy)
    batch = accept(
        parsed(sensor, "r1", EventType.READING, {"pm25": 11}),
        parsed(sensor, "r-bad", EventType.READING, {"pm25": 666}, ts=T0 + timedelta(seconds=5)),
        capture=django_capture_on_commit_callbacks,
    )
    assert not DeviceEvent.objects.filter(device=sensor).exists()  # readings alone
    assert ingest_batch_process(batch).processed

    failure = IngestFailure.objects.get()
    assert (failure.sent_id, failure.error) == ("r-bad", "ValueError: calibration table missing")
    kept = DeviceEvent.objects.get(pk=failure.event_id)
    assert (kept.device, kept.event_id, kept.type, kept.ts, kept.data) == (
        sensor,
        "r-bad",
        EventType.READING,
        T0 + timedelta(seconds=5),
        {"pm25": 666},
    )
    assert readings(sensor) == [11, 666]
    sensor.refresh_from_db()
    assert sensor.latest == {"pm25": 11.0}

    monkeypatch.setattr(batch_module, "numeric_values", real)  # the fix is deployed
    with django_capture_on_commit_callbacks(execute=True):
        replay = ingest_failures_replay(
            actor=example_user("admin"), failures=IngestFailure.objects.all()
        )
    if IngestBatch.objects.filter(pk=replay, processed_at__isnull=True).exists():
        ingest_batch_process(replay)  # with a broker the task was only queued
    assert not IngestFailure.objects.exists()
    assert readings(sensor) == [11, 666]  # not written again
    sensor.refresh_from_db()
    assert sensor.latest == {"pm25": 666.0}


def test_a_batch_started_too_often_is_set_aside_by_the_sweeper_not_requeued(
    sensor: Device, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    stuck = accept(
        parsed(sensor, "r1", EventType.READING, {"pm25": 1}),
        parsed(sensor, "r2", EventType.READING, {"pm25": 2}),
        capture=django_capture_on_commit_callbacks,
    )
    fresh = accept(
        parsed(sensor, "r3", EventType.READING, {"pm25": 3}),
        capture=django_capture_on_commit_callbacks,
    )
    IngestBatch.objects.update(last_queued_at=timezone.now() - timedelta(minutes=5))
    IngestBatch.objects.filter(pk=stuck).update(
        attempts=settings.IOC_INGEST_MAX_ATTEMPTS, last_error="MemoryError: "
    )

    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert ingest_sweep() == 1

    assert len(queued) == 1  # only the other batch is queued again
    assert IngestBatch.objects.get(pk=stuck).processed_at is not None
    assert IngestBatch.objects.get(pk=fresh).processed_at is None
    failures = IngestFailure.objects.order_by("sent_id")
    assert [failure.sent_id for failure in failures] == ["r1", "r2"]
    assert all("after 5 attempts" in f.error and "MemoryError" in f.error for f in failures)


def test_a_requeued_batch_counts_its_attempt_before_it_starts(
    sensor: Device, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    batch = accept(
        parsed(sensor, "r1", EventType.READING, {"pm25": 1}),
        capture=django_capture_on_commit_callbacks,
    )

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("worker killed")  # no handler runs: as when the kernel kills it

    monkeypatch.setattr(batch_module, "_process_together", killed)
    for _attempt in range(2):
        with pytest.raises(SystemExit):
            ingest_batch_process(batch, retry=True)
    assert IngestBatch.objects.get(pk=batch).attempts == 2
    monkeypatch.undo()
    assert ingest_batch_process(batch, retry=True).processed
    assert IngestBatch.objects.get(pk=batch).attempts == 3
    assert readings(sensor) == [1]


def test_a_failure_of_the_database_counts_an_attempt_and_leaves_the_batch_pending(
    sensor: Device, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    batch = accept(
        parsed(sensor, "r1", EventType.READING, {"pm25": 1}),
        capture=django_capture_on_commit_callbacks,
    )

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(batch_module, "device_state_save", lost)
    with pytest.raises(OperationalError):
        ingest_batch_process(batch)
    stored = IngestBatch.objects.get(pk=batch)
    assert (stored.processed_at, stored.attempts) == (None, 1)
    assert "server closed the connection" in stored.last_error
    assert not IngestFailure.objects.exists()  # not the events' fault: tried again later


# --- Real poison, on PostgreSQL ---------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("batches_carry", ["payload", "ids"])
def test_real_poison_among_good_events_is_set_aside_and_nothing_blocks(
    sensor: Device, django_capture_on_commit_callbacks: Any, batches_carry: str
) -> None:
    """Events the API now refuses, stored as an older version accepted them. (Data nested
    254 deep never got this far: storing it failed in the request, now refused as a 400.)

    The worker takes the events from the outbox row, as ingest_accept writes it now
    (``payload``), or reads them back, for outbox rows of an older version, which named the
    events only (``ids``): then a time PostgreSQL holds but Python cannot read (year 1 in
    +07:00 is 1 BC in UTC) fails that event alone; from the payload it is just an old
    heartbeat."""
    assert connection.vendor == "postgresql"
    signal = example_device(OWN_WARD, DeviceKind.SIGNAL)
    Device.objects.filter(pk=signal.pk).update(last_seen_at=None)
    year_one = datetime.fromisoformat("0001-01-01T00:00:00+07:00")  # 1 BC in UTC
    good = [
        accept(
            parsed(sensor, f"g{n}", EventType.READING, {"pm25": n}, ts=T0 + timedelta(seconds=n)),
            capture=django_capture_on_commit_callbacks,
        )
        for n in range(3)
    ]
    poison = accept(
        parsed(sensor, "p-good", EventType.READING, {"pm25": 99}, ts=T0 + timedelta(seconds=9)),
        parsed(sensor, "p-year-1", EventType.HEARTBEAT, {}, ts=year_one),
        parsed(signal, "p-mode", EventType.STATUS, {"mode": "manual-override-by-police"}),
        capture=django_capture_on_commit_callbacks,
    )
    more = accept(
        parsed(sensor, "g9", EventType.READING, {"pm25": 100}, ts=T0 + timedelta(seconds=20)),
        capture=django_capture_on_commit_callbacks,
    )

    if batches_carry == "ids":
        IngestBatch.objects.update(payload="")
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest_batch_process(good[0]).processed  # the poison batch is a companion
        for batch in [*good[1:], poison, more]:
            ingest_batch_process(batch)

    assert not IngestBatch.objects.filter(processed_at__isnull=True).exists()
    assert readings(sensor) == [0, 1, 2, 99, 100]
    errors = dict(IngestFailure.objects.values_list("sent_id", "error"))
    if batches_carry == "ids":
        assert set(errors) == {"p-year-1", "p-mode"}, errors
        assert "year -1 is out of range" in errors["p-year-1"]
    else:
        assert set(errors) == {"p-mode"}, errors
    assert "too long" in errors["p-mode"]

    # The cause of one fixed (the row corrected), its replay goes through; the others are
    # set aside again, with their error, and still block nothing.
    DeviceEvent.objects.filter(event_id="p-mode").update(data={"mode": "manual"})
    with django_capture_on_commit_callbacks(execute=True):
        replay = ingest_failures_replay(
            actor=example_user("admin"), failures=IngestFailure.objects.all()
        )
    assert replay is not None
    ingest_batch_process(replay)
    left = ["p-year-1"] if batches_carry == "ids" else []
    assert list(IngestFailure.objects.values_list("sent_id", flat=True)) == left
    assert SignalDetail.objects.get(device=signal).mode == "manual"


def test_an_administrator_sees_set_aside_events_and_replays_them_from_the_admin(
    login: Any, camera: Device, broken_fire_rule: Any, django_capture_on_commit_callbacks: Any
) -> None:
    batch = accept(
        parsed(camera, "fire-1", EventType.DETECTION, {"kind": "fire"}),
        capture=django_capture_on_commit_callbacks,
    )
    ingest_batch_process(batch)
    failure = IngestFailure.objects.get()
    admin = login("admin")
    listing = admin.get("/admin/cameras/ingestfailure/").content.decode()
    assert "fire-1" in listing and "severity_matrix" in listing
    broken_fire_rule.fix()

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin.post(
            "/admin/cameras/ingestfailure/",
            {"action": "replay", "_selected_action": [failure.pk]},
        )
    assert response.status_code == 302
    assert len(queued) == 1
    assert not IngestFailure.objects.exists()
    replay = IngestBatch.objects.get(source="replay")
    assert replay.events == [failure.event_id]
