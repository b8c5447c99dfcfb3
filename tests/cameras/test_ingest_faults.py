"""A bad day, with real processes (issue 13, reliability 7): the platform runs under
supervisord as ``make serve`` runs it, with its default sweep settings, while a gateway
keeps pushing; the worker is killed in the middle of a transaction, Redis restarts five
times (keeping its data, and losing it), PostgreSQL restarts, poison sits among good
events. Each time: every event answered 202 is stored once and processed once (its
reading is there, exactly once), and nothing accepted is still unprocessed 60 s after the
last fault.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from cameras.choices import DeviceKind, EventType
from cameras.models import Device, Gateway, IngestBatch, IngestFailure
from cameras.services import ingest_accept
from cameras.services.ingest.validation import ParsedEvent
from cameras.services.registry import token_issue
from tests.support import OWN_WARD, example_device, gateway_code, process_env, wait_for
from tests.support.faults import (
    Feeder,
    OwnPostgres,
    OwnRedis,
    Supervised,
    assert_exactly_once,
    query,
)

pytestmark = pytest.mark.integration

AFTER_LAST_FAULT = 60.0  # seconds within which everything accepted must be processed
RESTARTS = 5


def gateway_feed() -> tuple[str, list[str]]:
    """A gateway token of the own ward and the codes of its devices."""
    gateway = Gateway.objects.get(code=gateway_code(OWN_WARD))
    devices = sorted(Device.objects.filter(gateway=gateway).values_list("code", flat=True))
    return token_issue(owner=gateway, actor_label="test"), devices


def settle(feeder: Feeder, dsn: str, last_fault: float) -> None:
    """Stop the feeder, then hold the platform to the promise measured from the last fault."""
    feeder.finish()
    left = AFTER_LAST_FAULT - (time.monotonic() - last_fault)
    found = assert_exactly_once(dsn, feeder, within=left)
    print(
        f"{feeder.tag}: {len(feeder.accepted)} events in {feeder.batches} batches accepted, "
        f"{found.readings} processed once each, "
        f"{time.monotonic() - last_fault:.1f} s after the last fault; "
        f"refused meanwhile: {dict(feeder.refusals) or 'nothing'}; "
        f"slowest answer {feeder.slowest:.2f} s"
    )


class Platforms:
    """Starts the platform under supervisord (``run(**env)``); ``stop()`` stops them all."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[Supervised] = []

    def __call__(self, **env: str) -> Supervised:
        n = len(self.started)
        var_dir = self.tmp_path / f"var-{n}"
        var_dir.mkdir()
        supervised = Supervised(var_dir, self.tmp_path / f"supervisord-{n}.log", **env)
        self.started.append(supervised)
        supervised.wait_ready()
        return supervised

    def stop(self) -> None:
        for supervised in self.started:
            supervised.stop()


@pytest.fixture
def run(demo_city_committed: Any, tmp_path: Path) -> Iterator[Platforms]:
    platforms = Platforms(tmp_path)
    try:
        yield platforms
    finally:
        platforms.stop()


def open_worker_transaction(dsn: str, database: str) -> int | None:
    """The backend pid of a session writing readings inside an open transaction (the
    worker: the web processes only write events and the outbox), or None."""
    rows = query(
        dsn,
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_xid IS NOT NULL"
        " AND state IN ('active', 'idle in transaction') AND query ILIKE %s LIMIT 1",
        (database, "%cameras_reading%"),
    )
    return int(rows[0][0]) if rows else None


def test_the_worker_killed_in_a_transaction_loses_nothing_and_doubles_nothing(
    run: Platforms,
) -> None:
    token, devices = gateway_feed()
    dsn = process_env()["DATABASE_URL"]
    database = dsn.rsplit("/", 1)[1]
    platform = run()
    # A backlog for the worker to chew on, so that its transactions are long and many.
    platform.ctl("stop", "worker")
    feeder = Feeder(platform.url, token, devices, "kill", per_batch=500).begin()
    feeder.wait_batches(40)
    platform.ctl("start", "worker")

    caught: list[int] = []

    def in_transaction() -> bool:
        pid = open_worker_transaction(dsn, database)
        if pid is not None:
            caught.append(pid)
            platform.kill("worker")
        return bool(caught)

    deadline = time.monotonic() + 60
    while not in_transaction():
        assert time.monotonic() < deadline, "the worker never opened a transaction"
        time.sleep(0.01)
    last_fault = time.monotonic()
    # The transaction died with its session: PostgreSQL rolled it back.
    wait_for(lambda: open_worker_transaction(dsn, database) != caught[0], 10, "the session to end")
    wait_for(lambda: platform.pid("worker") > 0, 30, "supervisord to start the worker again")
    settle(feeder, dsn, last_fault)


@pytest.mark.parametrize("persistent", [True, False], ids=["redis-keeps-data", "redis-empty"])
def test_five_redis_restarts_under_load_lose_nothing_and_double_nothing(
    run: Platforms, tmp_path: Path, persistent: bool
) -> None:
    redis_server = OwnRedis(tmp_path / "redis", persistent=persistent)
    redis_server.start()
    try:
        token, devices = gateway_feed()
        dsn = process_env()["DATABASE_URL"]
        platform = run(REDIS_URL=redis_server.url)
        feeder = Feeder(platform.url, token, devices, f"redis{int(persistent)}").begin()
        for _ in range(RESTARTS):
            feeder.wait_batches(5)
            redis_server.restart(down=2)
        last_fault = time.monotonic()
        feeder.wait_batches(5)  # and it goes on taking events after the last restart
        settle(feeder, dsn, last_fault)
        assert redis_server.restarts == RESTARTS
        for program in ("web", "worker", "beat"):
            assert "RUNNING" in platform.ctl("status", program), platform.ctl("status")
    finally:
        redis_server.stop()


def test_a_postgresql_restart_under_load_loses_nothing_and_doubles_nothing(
    run: Platforms, tmp_path: Path
) -> None:
    token, devices = gateway_feed()  # issued before the copy: the copy knows the token
    cluster = OwnPostgres(f"iocfault{int(time.time())}")
    try:
        dsn = cluster.copy_database(process_env()["DATABASE_URL"], "ioc")
        platform = run(DATABASE_URL=dsn)
        feeder = Feeder(platform.url, token, devices, "pg").begin()
        for _ in range(2):
            feeder.wait_batches(10)
            cluster.restart(down=3)
        last_fault = time.monotonic()
        feeder.wait_batches(5)
        settle(feeder, dsn, last_fault)
        # While it was away the API said 503 (or the connection dropped), never a 500; the
        # feed outpaces the per-token limit now and then (429).
        assert "503" in feeder.refusals, "PostgreSQL was never seen away"
        assert set(feeder.refusals) <= {"503", "429", "ReadError", "RemoteProtocolError"}, (
            feeder.refusals
        )
    finally:
        run.stop()  # before the cluster goes
        cluster.drop()


def test_poison_among_good_events_is_set_aside_while_the_good_flow_on(run: Platforms) -> None:
    """Events the door now refuses, stored in the outbox as an older version accepted them
    (a timestamp in year 1, a signal mode longer than its column), among a steady feed.
    An older version's outbox row named its events without carrying them (no payload): the
    worker reads them back, and the year-1 time is what cannot be read."""
    token, devices = gateway_feed()
    dsn = process_env()["DATABASE_URL"]
    platform = run()
    feeder = Feeder(platform.url, token, devices, "poison").begin()
    feeder.wait_batches(5)
    sensor = Device.objects.filter(kind=DeviceKind.SENSOR).order_by("code").first()
    assert sensor is not None
    signal = example_device(OWN_WARD, DeviceKind.SIGNAL)
    year_one = datetime.fromisoformat("0001-01-01T00:00:00+07:00")
    with transaction.atomic():  # queued at this commit, as the older version's row
        poison = ingest_accept(
            events=[
                ParsedEvent(sensor.pk, sensor.code, "p-ok", EventType.READING, timezone.now(), {}),
                ParsedEvent(sensor.pk, sensor.code, "p-year-1", EventType.HEARTBEAT, year_one, {}),
                ParsedEvent(
                    signal.pk,
                    signal.code,
                    "p-mode",
                    EventType.STATUS,
                    timezone.now() + timedelta(minutes=4),  # newer than the feed's: applied
                    {"mode": "manual-override-by-police"},
                ),
            ],
            source="test:an older version's door",
        )
        IngestBatch.objects.filter(pk=poison.batch_id).update(payload="")
    assert poison.batch_id is not None
    last_fault = time.monotonic()
    feeder.wait_batches(10)
    settle(feeder, dsn, last_fault)
    failures = dict(IngestFailure.objects.values_list("sent_id", "error"))
    assert set(failures) == {"p-year-1", "p-mode"}, failures
