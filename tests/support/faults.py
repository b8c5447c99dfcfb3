"""Faults with real processes: the platform under supervisord (``make serve``'s own
configuration), a Redis and a PostgreSQL of the test's own that can be killed and started
again, and a gateway that keeps pushing through it all (``Feeder``).

The shared Redis and PostgreSQL of the machine are never stopped: a test that restarts one
starts its own on a free port first.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.live import free_port, process_env, wait_for

ROOT = Path(__file__).resolve().parents[2]
SUPERVISORD = Path(sys.executable).parent / "supervisord"
SUPERVISORCTL = Path(sys.executable).parent / "supervisorctl"


class Supervised:
    """supervisord running deploy/supervisord.conf (web, ws, worker, commands, beat) against
    this test's database, or the ``DATABASE_URL``/``REDIS_URL`` given in ``env``."""

    def __init__(self, var_dir: Path, log: Path, **env: str) -> None:
        self.env = process_env(
            IOC_VAR_DIR=str(var_dir),
            IOC_PORT=str(free_port()),
            IOC_WS_PORT=str(free_port()),
            WEB_CONCURRENCY="1",
            WORKER_CONCURRENCY="1",
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            **env,
        )
        self.url = f"http://127.0.0.1:{self.env['IOC_PORT']}"
        self.log = log
        self.process = subprocess.Popen(
            [str(SUPERVISORD), "-c", str(ROOT / "deploy" / "supervisord.conf")],
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ctl(self, *args: str) -> str:
        return subprocess.run(
            [str(SUPERVISORCTL), "-c", str(ROOT / "deploy" / "supervisord.conf"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()

    def pid(self, program: str) -> int:
        text = self.ctl("pid", program)
        return int(text) if text.isdigit() else 0

    def healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self) -> None:
        """Until the web answers and the ingest worker has started."""
        wait_for(self.healthy, 60, "gunicorn under supervisord to answer")
        wait_for(lambda: self.pid("worker") > 0, 60, "the worker to start")

    def kill(self, program: str) -> int:
        """SIGKILL a program and its children (a Celery worker's pool): a crash, with no
        chance to finish or roll back itself. Returns the pid that was killed."""
        pid = self.pid(program)
        assert pid, f"{program} is not running: {self.ctl('status')}"
        os.killpg(pid, signal.SIGKILL)  # supervisord starts each program in its own group
        return pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class OwnRedis:
    """A redis-server of the test's own, on a free port: ``persistent`` keeps its data on
    disk (append-only file, written before each answer), as a production Redis may;
    otherwise a restart comes back empty, as the machine's shared one does."""

    def __init__(self, workdir: Path, *, persistent: bool) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--appendfsync",
            "always",
        ]
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for(self.answers, 20, f"redis-server on port {self.port} to answer")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def crash(self) -> None:
        """SIGKILL: nothing flushed that was not already on disk."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def restart(self, *, down: float) -> None:
        self.crash()
        time.sleep(down)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class OwnPostgres:
    """A PostgreSQL cluster of the test's own (``pg_createcluster``, trust authentication,
    a free port) holding a copy of the test database; dropped at the end."""

    def __init__(self, name: str) -> None:
        versions = sorted(os.listdir("/etc/postgresql"))
        assert versions, "no PostgreSQL installation under /etc/postgresql"
        self.version = versions[-1]
        self.name = name
        self.port = free_port()
        self.restarts = 0
        self._run(
            "pg_createcluster", self.version, name, "-p", str(self.port), "--", "--auth=trust"
        )
        self.start()

    @staticmethod
    def _run(*command: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
        return done.stdout

    def dsn(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "start")
        wait_for(self.answers, 30, f"the own PostgreSQL on port {self.port} to answer")

    def answers(self) -> bool:
        import psycopg2

        try:
            query(self.dsn(), "SELECT 1")
        except psycopg2.Error:
            return False
        return True

    def restart(self, *, down: float) -> None:
        """Stop as a crash would (``immediate``: every session cut, no checkpoint), stay
        down ``down`` seconds, start again (crash recovery)."""
        self._run(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            self.version,
            self.name,
            "stop",
            "-m",
            "immediate",
        )
        time.sleep(down)
        self.start()
        self.restarts += 1

    def copy_database(self, source_dsn: str, database: str) -> str:
        """A copy of ``source_dsn``'s database here; returns its DSN."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", database)
        dump = subprocess.Popen(["pg_dump", "--no-owner", source_dsn], stdout=subprocess.PIPE)
        restore = subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", self.dsn(database)],
            stdin=dump.stdout,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert dump.wait(300) == 0 and restore.returncode == 0, restore.stderr
        return self.dsn(database)

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name],
            capture_output=True,
            timeout=120,
            check=False,
        )


@dataclass
class Feeder:
    """A gateway pushing reading batches without pause, as a real one does through a fault:
    a batch not answered 202 (a 503, a reset, a timeout) is sent again with the same event
    ids until it is, so an answer lost on the way stores nothing twice.

    Every event reads ``pm25`` = its sequence number and ``pm10`` = 1, one millisecond after
    the one before on its device: the readings a test finds tell which events were
    processed, and how often."""

    url: str
    token: str
    devices: list[str]
    tag: str
    per_batch: int = 100
    pause: float = 0.02
    start: datetime = field(default_factory=lambda: datetime.now().astimezone())
    accepted: list[int] = field(default_factory=list)  # sequence numbers answered 202
    refusals: Counter[str] = field(default_factory=Counter)  # what was answered instead
    batches: int = 0
    slowest: float = 0.0  # the longest a request took, in seconds

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"feeder-{self.tag}", daemon=True)
        self._next = 0
        self._error: BaseException | None = None

    def begin(self) -> Feeder:
        self._thread.start()
        return self

    def finish(self, timeout: float = 90) -> None:
        """Stop after the batch in flight has been accepted."""
        self._stop.set()
        self._thread.join(timeout)
        if self._error is not None:
            raise AssertionError(f"the feeder stopped: {self._error!r}") from self._error
        assert not self._thread.is_alive(), "the feeder's last batch was never accepted"

    def wait_batches(self, count: int, timeout: float = 60) -> None:
        target = self.batches + count
        wait_for(
            lambda: self.batches >= target or self._error is not None,
            timeout,
            f"{count} more batches accepted",
        )
        if self._error is not None:
            raise AssertionError(f"the feeder stopped: {self._error!r}") from self._error

    def _batch(self) -> tuple[list[int], list[dict[str, Any]]]:
        numbers = list(range(self._next, self._next + self.per_batch))
        self._next += self.per_batch
        events = [
            {
                "id": f"{self.tag}-{n}",
                "device": self.devices[n % len(self.devices)],
                "ts": (self.start + timedelta(milliseconds=n)).isoformat(),
                "type": "reading",
                "data": {"pm25": float(n), "pm10": 1.0},
            }
            for n in numbers
        ]
        return numbers, events

    def _run(self) -> None:
        try:
            self._feed()
        except BaseException as exc:  # handed to the test by finish() and wait_batches()
            self._error = exc

    def _feed(self) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                numbers, events = self._batch()
                while True:  # this batch, until it is accepted
                    sent = time.monotonic()
                    try:
                        response = client.post(
                            "/api/v1/ingest/events",
                            json={"events": events},
                            headers={"Authorization": f"Gateway {self.token}"},
                        )
                    except httpx.HTTPError as exc:
                        self.refusals[type(exc).__name__] += 1
                    else:
                        self.slowest = max(self.slowest, time.monotonic() - sent)
                        if response.status_code == 202:
                            body = response.json()
                            assert body["accepted"] + body["duplicates"] == len(events), body
                            break
                        assert response.status_code in {429, 503}, response.text
                        self.refusals[str(response.status_code)] += 1
                    time.sleep(0.2)
                self.accepted.extend(numbers)
                self.batches += 1
                time.sleep(self.pause)


@dataclass
class Stored:
    """What the database holds of a feeder's events, read with plain SQL (the processes may
    be on a database the test's own Django connection does not know)."""

    events: int  # device events with the feeder's ids
    readings: int  # pm25 readings in the feeder's window
    distinct_readings: int  # of which distinct (device, ts): more readings means a double
    values: set[int]  # the sequence numbers those readings carry
    unprocessed: int  # outbox batches not processed yet


def query(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of one statement on ``dsn``, on a connection of its own (autocommit)."""
    import psycopg2

    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
    finally:
        conn.close()


def stored(dsn: str, feeder: Feeder) -> Stored:
    window = (feeder.start - timedelta(seconds=1), feeder.start + timedelta(hours=6))
    [(events,)] = query(
        dsn,
        # a reading event is stored as its readings alone, each with the event's id
        "SELECT count(DISTINCT (device_id, event_id)) FROM cameras_reading WHERE event_id LIKE %s",
        (f"{feeder.tag}-%",),
    )
    rows = query(
        dsn,
        "SELECT r.device_id, r.ts, r.value FROM cameras_reading r"
        " JOIN cameras_device d ON d.id = r.device_id"
        " WHERE r.metric = 'pm25' AND d.code = ANY(%s) AND r.ts BETWEEN %s AND %s",
        (feeder.devices, *window),
    )
    [(unprocessed,)] = query(
        dsn, "SELECT count(*) FROM cameras_ingestbatch WHERE processed_at IS NULL"
    )
    return Stored(
        events=events,
        readings=len(rows),
        distinct_readings=len({(device, ts) for device, ts, _value in rows}),
        values={int(value) for _device, _ts, value in rows},
        unprocessed=unprocessed,
    )


def assert_exactly_once(dsn: str, feeder: Feeder, *, within: float) -> Stored:
    """Every accepted event stored and processed once, and nothing still pending, within
    ``within`` seconds from now: returns what was found."""
    expected = len(feeder.accepted)
    assert expected == len(set(feeder.accepted)) > 0
    deadline = time.monotonic() + within
    found = stored(dsn, feeder)
    while (found.unprocessed or found.readings < expected) and time.monotonic() < deadline:
        time.sleep(0.5)
        found = stored(dsn, feeder)
    assert found.unprocessed == 0, f"still unprocessed after {within:.0f} s: {found}"
    assert found.events == expected, found.events
    assert found.readings == found.distinct_readings == expected, (found.readings, expected)
    assert found.values == set(feeder.accepted)
    return found
