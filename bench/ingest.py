"""Ingest throughput on the production-shaped stack, end to end, on an empty database and
on one already holding many readings.

Each run starts, against a PostgreSQL database and Redis: the HTTP server (gunicorn, 2
processes, as `make serve` runs it; ``--web uvicorn`` for the ASGI server instead) and one
Celery worker (2 processes) on the ingest queue; pushes batches of 500 readings through
POST /api/v1/ingest/events from concurrent clients as the ward gateways would; and waits
until every accepted batch is processed. It prints sustained events/s from the first
request until the last batch is in the database, the events lost and duplicated (both must
be 0), where the CPU went (web, worker, database, this client, the rest of the machine),
and, in the same run, the rate of a raw COPY of the same rows (each event's two readings,
with its id) into a bare table, so that the ratio does not depend on the machine (the
target: 20 %): readings stored per second against the COPY's rows per second. It also
prints the ratio this bench printed before this change, events per second against rows
per second (an event of two readings weighed as one row).

The first run is on a fresh database with the demo city. The second (``--preload N``,
default 100 million; 0 skips it) is on a database that already holds N readings (N/2
reading events, stored as their readings), spread over the demo's devices and the last 90
days: it is built once (minutes) and kept, like bench/history.py's, and each run deletes what it
added. The two rates are compared (the target: not more than 10 % slower).

    python bench/ingest.py [--events 200000] [--clients 8] [--batch 500] [--preload N]

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ioc_bench,
dropped and recreated, and dropped again at the end), BENCH_PRELOAD_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/ioc_bench_ingest_preload, kept), BENCH_REDIS_URL
(default redis://127.0.0.1:6379/5, flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc_bench")
PRELOAD_DATABASE_URL = os.environ.get(
    "BENCH_PRELOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc_bench_ingest_preload"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
# The preloaded history: this many days back from the moment it is built.
PRELOAD_DAYS = 90
# Rows a preload statement writes at most (one transaction each, progress printed between).
PRELOAD_CHUNK = 5_000_000
TARGET_RATIO = 0.20
# The readings of each event the bench sends (pm25 and pm10): the rows ingest stores.
READINGS_PER_EVENT = 2
TARGET_SLOWDOWN = 0.10
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_connection(database_url: str = DATABASE_URL, dbname: str = "postgres") -> Any:
    """An autocommit psycopg2 connection to the server of ``database_url`` (to its
    ``postgres`` database unless ``dbname`` says otherwise): for CREATE and DROP DATABASE,
    VACUUM and CHECKPOINT, which cannot run in a transaction."""
    import psycopg2

    url = urlparse(database_url)
    admin = psycopg2.connect(
        host=url.hostname,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=dbname,
    )
    admin.autocommit = True
    return admin


def database_name(database_url: str) -> str:
    """The database a URL names."""
    return urlparse(database_url).path.lstrip("/")


def recreate_database(database_url: str = DATABASE_URL) -> None:
    """Drop and create the scratch database the bench runs on."""
    name = database_name(database_url)
    admin = admin_connection(database_url)
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def database_exists(database_url: str) -> bool:
    admin = admin_connection(database_url)
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database_name(database_url)]
        )
        found = cursor.fetchone() is not None
    admin.close()
    return found


def drop_database(database_url: str = DATABASE_URL) -> None:
    """Drop a scratch database once its bench is done: left behind, its freshly written
    tables would be vacuumed and analysed by autovacuum during the next bench, on the same
    two cores."""
    admin = admin_connection(database_url)
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database_name(database_url)}" WITH (FORCE)')
    admin.close()


def quiesce(database_url: str = DATABASE_URL, timeout: float = 120.0) -> float:
    """Wait (at most ``timeout`` seconds) until PostgreSQL runs no autovacuum worker, then
    CHECKPOINT, so that what is timed next is not background maintenance; the seconds
    waited."""
    admin = admin_connection(database_url)
    began = time.monotonic()
    with admin.cursor() as cursor:
        while time.monotonic() - began < timeout:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            )
            if not cursor.fetchone()[0]:
                break
            time.sleep(0.5)
        cursor.execute("CHECKPOINT")
    admin.close()
    return time.monotonic() - began


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioc.settings")
    import django

    django.setup()


# --- where the CPU goes ------------------------------------------------------------------


def process_ticks(pid: int) -> int:
    """CPU clock ticks a process has used (user + system), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])


def tree(pid: int) -> list[int]:
    """A process and its descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        pending.extend(int(child) for child in children)
    return found


def machine_ticks() -> int:
    """Busy CPU ticks of the whole machine (every core, every process)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields[:8]) - idle


class CpuShare:
    """CPU used between ``start`` and ``stop`` by the web server, the worker, the bench
    database's backends and this client, and by everything else on the machine (other
    databases, PostgreSQL's own background processes, whatever else runs)."""

    def __init__(self, web: int, worker: int, database_url: str) -> None:
        self.roots = {"web": web, "worker": worker}
        self.database = database_name(database_url)

    def _backends(self) -> list[int]:
        admin = admin_connection(DATABASE_URL)
        with admin.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
            pids = [row[0] for row in cursor.fetchall()]
        admin.close()
        return pids

    def _snapshot(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "web": {pid: process_ticks(pid) for pid in tree(self.roots["web"])},
            "worker": {pid: process_ticks(pid) for pid in tree(self.roots["worker"])},
            "database": {pid: process_ticks(pid) for pid in self._backends()},
            "client": (usage.ru_utime + usage.ru_stime) * CLOCK_TICKS,
            "machine": machine_ticks(),
        }

    def start(self) -> None:
        self.before = self._snapshot()

    def stop(self) -> dict[str, float]:
        """Seconds of CPU per part."""
        after = self._snapshot()
        seconds: dict[str, float] = {}
        for part in ("web", "worker", "database"):
            # a backend that appeared during the run counts from 0
            ticks = sum(t - self.before[part].get(pid, 0) for pid, t in after[part].items())
            seconds[part] = ticks / CLOCK_TICKS
        seconds["client"] = (after["client"] - self.before["client"]) / CLOCK_TICKS
        machine = (after["machine"] - self.before["machine"]) / CLOCK_TICKS
        seconds["rest of the machine"] = max(0.0, machine - sum(seconds.values()))
        return seconds


# --- the preloaded database --------------------------------------------------------------


def schema_version() -> str:
    """The latest migration of the tables the preload fills: a database built before a
    newer one (a change of the readings' or events' tables) is built again rather than
    migrated with its hundred million rows."""
    migrations = sorted(path.stem for path in (ROOT / "cameras" / "migrations").glob("0*.py"))
    return migrations[-1]


def preload_marker(cursor: Any) -> tuple[int, str] | None:
    """The readings the preloaded database was built with and its schema, None if it is
    not complete."""
    cursor.execute("SELECT to_regclass('bench_ingest_preload')")
    if cursor.fetchone()[0] is None:
        return None
    cursor.execute("SELECT readings, schema FROM bench_ingest_preload")
    row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else None


def ensure_preloaded(readings: int, env: dict[str, str]) -> None:
    """Build the preloaded database unless it already holds ``readings`` readings: the
    demo city without its month, then the readings by generate_series, in time order (each
    device reports its pm25 and pm10 every few seconds over the last PRELOAD_DAYS days, its
    event ids rising as a device's do; a reading event is stored as its readings alone),
    then VACUUM ANALYZE."""
    if database_exists(PRELOAD_DATABASE_URL):
        connection = admin_connection(PRELOAD_DATABASE_URL, database_name(PRELOAD_DATABASE_URL))
        with connection.cursor() as cursor:
            built = preload_marker(cursor)
        connection.close()
        if built == (readings, schema_version()):
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
            )
            return
    print(f"building {database_name(PRELOAD_DATABASE_URL)}: {readings:,} readings (once)")
    began = time.monotonic()
    recreate_database(PRELOAD_DATABASE_URL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "load_demo", "--no-month"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    events = readings // 2
    end = datetime.now(UTC)
    step_us = max(1, PRELOAD_DAYS * 86_400_000_000 // max(events, 1))
    connection = admin_connection(PRELOAD_DATABASE_URL, database_name(PRELOAD_DATABASE_URL))
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        # rows go in without their indexes, which are built once at the end: a hundred
        # million index insertions one by one took an hour and a half
        rebuild = indexes_drop(cursor, ["cameras_reading"])
        # event k: device k mod n, the k-th report of the history; ts rising with k
        devices = (
            "(SELECT array_agg(id ORDER BY id) AS ids, count(*)::bigint AS n FROM cameras_device) d"
        )
        for low in range(0, events, PRELOAD_CHUNK // 2):
            high = min(events, low + PRELOAD_CHUNK // 2) - 1
            report = (
                f"FROM generate_series({low}::bigint, {high}::bigint) k, {devices}, "
                f"LATERAL (SELECT d.ids[1 + k %% d.n] AS device, "
                f"%(end)s - ({events}::bigint - k) * {step_us} * interval '1 microsecond' AS ts, "
                "(k %% 90)::float8 AS pm25, (k %% 140)::float8 AS pm10) r"
            )
            # a reading event is stored as its readings alone, each with the event's id
            cursor.execute(
                "INSERT INTO cameras_reading (device_id, metric, ts, value, event_id) "
                "SELECT r.device, m.metric, r.ts, CASE m.metric WHEN 'pm25' THEN r.pm25 "
                "ELSE r.pm10 END, 'p' || lpad((k / d.n)::text, 12, '0') "
                + report
                + ", (VALUES ('pm25'), ('pm10')) m(metric)",
                {"end": end},
            )
            done = 2 * (high + 1)
            print(f"  {done:,} readings ({done / (time.monotonic() - began):,.0f}/s)", flush=True)
        for statement in rebuild:
            cursor.execute(statement)
        print(f"  indexed at {time.monotonic() - began:,.0f} s", flush=True)
        cursor.execute("VACUUM ANALYZE cameras_reading")
        cursor.execute(
            "CREATE TABLE bench_ingest_preload (readings bigint, schema text, built_at timestamptz)"
        )
        cursor.execute(
            "INSERT INTO bench_ingest_preload VALUES (%s, %s, now())", [readings, schema_version()]
        )
    connection.close()
    print(f"  built in {time.monotonic() - began:,.0f} s")


def indexes_drop(cursor: Any, tables: list[str]) -> list[str]:
    """Drop the tables' indexes and unique constraints (not their primary keys, which
    rows append to, and which other tables' keys reference); the statements that make
    them again, as Django's migrations left them."""
    rebuild: list[str] = []
    for table in tables:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
            rebuild.append(definition)
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            rebuild.insert(0, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return rebuild


# --- one run -----------------------------------------------------------------------------


def one_run(options: argparse.Namespace) -> dict[str, Any]:
    """Push the events through the stack on one database; the figures of the run."""
    database_url = PRELOAD_DATABASE_URL if options.preloaded else DATABASE_URL
    var_dir = tempfile.mkdtemp(prefix="ioc-bench-")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "IOC_VAR_DIR": var_dir,
        "IOC_INGEST_REQUESTS_PER_SECOND": "0",
        "IOC_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if options.preloaded:
        ensure_preloaded(options.preload, env)
    else:
        recreate_database()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [sys.executable, "manage.py", "load_demo"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    setup_django(env)

    from cameras.models import Device, Gateway, IngestBatch, Reading
    from cameras.services.registry import token_issue

    gateways = []
    for gateway in Gateway.objects.order_by("code"):
        devices = list(Device.objects.filter(gateway=gateway).values_list("code", flat=True))
        if devices:
            gateways.append((token_issue(owner=gateway, actor_label="bench"), devices))
    batches = options.events // options.batch
    start = datetime.now(UTC) + timedelta(minutes=1)  # newer than the demo's state
    bodies: list[tuple[str, bytes]] = []
    import orjson

    for b in range(batches):
        token, devices = gateways[b % len(gateways)]
        events = [
            {
                "id": f"b{b}-{n}",
                "device": devices[n % len(devices)],
                # a microsecond apart: within IOC_INGEST_MAX_FUTURE_SECONDS for any run
                "ts": (start + timedelta(microseconds=b * options.batch + n)).isoformat(),
                "type": "reading",
                "data": {"pm25": float(n % 90), "pm10": float(n % 140)},
            }
            for n in range(options.batch)
        ]
        bodies.append((token, orjson.dumps({"events": events})))
    expected_events = batches * options.batch
    quiesce(database_url, timeout=30)

    port = free_port()
    if options.web == "gunicorn":
        web = ["-m", "gunicorn", "ioc.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        web += ["--workers", str(options.web_workers), "--log-level", "warning"]
    else:
        web = ["-m", "uvicorn", "ioc.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
        web += ["--workers", str(options.web_workers), "--no-access-log", "--lifespan", "off"]
    processes = [
        subprocess.Popen([sys.executable, *web], cwd=ROOT, env=env, start_new_session=True),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ioc",
                "worker",
                "--queues",
                "ingest,default",
                "--concurrency",
                str(options.worker_concurrency),
                "--loglevel",
                "WARNING",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        ),
    ]
    cpu = CpuShare(processes[0].pid, processes[1].pid, database_url)
    try:
        import httpx

        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        time.sleep(3)  # the worker's start

        async def push() -> tuple[int, int, float]:
            queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
            for item in bodies:
                queue.put_nowait(item)
            accepted = duplicates = 0
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:

                async def one_client() -> None:
                    nonlocal accepted, duplicates
                    while not queue.empty():
                        token, body = queue.get_nowait()
                        while True:
                            response = await client.post(
                                "/api/v1/ingest/events",
                                content=body,
                                headers={
                                    "Authorization": f"Gateway {token}",
                                    "Content-Type": "application/json",
                                },
                            )
                            if response.status_code == 202:
                                accepted += response.json()["accepted"]
                                duplicates += response.json()["duplicates"]
                                break
                            await asyncio.sleep(0.05)

                began = time.perf_counter()
                await asyncio.gather(*(one_client() for _ in range(options.clients)))
                return accepted, duplicates, time.perf_counter() - began

        cpu.start()
        began = time.perf_counter()
        accepted, duplicates, http_seconds = asyncio.run(push())
        while IngestBatch.objects.filter(processed_at__isnull=True).exists():
            time.sleep(0.05)
        total_seconds = time.perf_counter() - began
        cpu_seconds = cpu.stop()
        # a reading event is stored as its readings alone, each carrying the event's id
        ours = Reading.objects.filter(ts__gte=start, event_id__startswith="b")
        stored_events = ours.values("device_id", "event_id").distinct().count()
        stored_readings = Reading.objects.filter(ts__gte=start).count()  # not the demo's
        # a worker transaction marks its batches processed with one moment
        transactions = IngestBatch.objects.values("processed_at").distinct().count()
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(30)

    figures = {
        "preloaded": options.preloaded,
        "readings_before": Reading.objects.filter(ts__lt=start).count()
        if not options.preloaded
        else options.preload,
        "events": expected_events,
        "batches": batches,
        "accepted": accepted,
        "duplicates": duplicates,
        "http_seconds": http_seconds,
        "total_seconds": total_seconds,
        "lost": expected_events - stored_events,
        "duplicated": stored_readings - 2 * stored_events,
        "cpu": cpu_seconds,
        "transactions": transactions,
    }
    from django.db import connection, connections

    if options.preloaded:
        # back to the preload: what this run added goes (autovacuum reclaims it later)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM cameras_reading WHERE ts >= %s", [start])
            cursor.execute(
                "DELETE FROM cameras_deviceevent WHERE ts >= %s AND event_id LIKE 'b%%'", [start]
            )
            cursor.execute("DELETE FROM cameras_ingestbatch")
    else:
        # the best of three: a single COPY lasts a second, and one other process's burst on
        # the same two cores halves it
        for kind, temporary in (("copy_temporary", True), ("copy_logged", False)):
            figures[kind] = max(raw_copy_rate(expected_events, temporary=temporary) for _ in "abc")
    connections.close_all()
    if not options.preloaded:
        drop_database()
    return figures


def raw_copy_rate(events: int, *, temporary: bool) -> float:
    """COPY of the rows ingest writes for ``events`` reading events (READINGS_PER_EVENT
    readings each, with the event's id) into a bare table with a primary key and one
    index: a temporary one (no WAL), or a logged one, which writes its WAL as ingest must.
    Rows per second."""
    from django.db import connection

    buffer = io.StringIO()
    now = datetime.now(UTC).isoformat()
    for n in range(events):
        for metric in ("pm25", "pm10")[:READINGS_PER_EVENT]:
            buffer.write(f"{n % 300 + 1}\t{metric}\t{now}\t{float(n % 90)}\tb{n}\n")
    kind = "TEMP" if temporary else ""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute(
            f"CREATE {kind} TABLE bench_copy (id bigserial PRIMARY KEY, device_id bigint,"
            " metric varchar(32), ts timestamptz, value double precision, event_id varchar(64))"
        )
        cursor.execute("CREATE INDEX ON bench_copy (device_id, metric, ts, event_id)")
    buffer.seek(0)
    began = time.perf_counter()
    with connection.connection.cursor() as raw:
        raw.copy_expert(
            "COPY bench_copy (device_id, metric, ts, value, event_id) FROM STDIN", buffer
        )
    connection.connection.commit()
    rate = events * READINGS_PER_EVENT / (time.perf_counter() - began)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy")
    return rate


# --- the report --------------------------------------------------------------------------


def report(run: dict[str, Any], copy_temporary: float, copy_logged: float) -> list[str]:
    """The lines of one run."""
    rate = run["events"] / run["total_seconds"]
    rows = rate * READINGS_PER_EVENT  # the readings stored per second
    cpu = run["cpu"]
    ours = sum(seconds for part, seconds in cpu.items() if part != "rest of the machine")
    per_event = ", ".join(
        f"{part} {seconds * 1e6 / run['events']:.0f}" for part, seconds in cpu.items()
    )
    rows = [
        ("readings stored before", f"{run['readings_before']:,}"),
        ("events sent", f"{run['events']:,} in {run['batches']:,} batches"),
        (
            "HTTP accepted",
            f"{run['accepted']:,} (+{run['duplicates']} duplicates) in "
            f"{run['http_seconds']:.1f} s = {run['accepted'] / run['http_seconds']:,.0f} events/s",
        ),
        (
            "end to end into PostgreSQL",
            f"{run['total_seconds']:.1f} s = {rate:,.0f} events/s sustained",
        ),
        ("events lost", str(run["lost"])),
        ("readings duplicated", str(run["duplicated"])),
        (
            "ratio to raw COPY",
            f"{rows / copy_temporary:.1%} of a temporary table's rows/s (target "
            f"{TARGET_RATIO:.0%}), {rows / copy_logged:.1%} of a logged table's",
        ),
        (
            "  events/s against rows/s",
            f"{rate / copy_temporary:.1%} of a temporary table's, {rate / copy_logged:.1%} of "
            "a logged table's (as this bench compared before: an event against one row)",
        ),
        ("CPU per event (us)", f"{per_event}; ours {ours * 1e6 / run['events']:.0f}"),
        (
            "worker transactions",
            f"{run['transactions']:,} ({run['batches'] / max(run['transactions'], 1):.1f} "
            "batches each)",
        ),
    ]
    return [f"  {label + ':':<29}{value}" for label, value in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument(
        "--web",
        choices=["gunicorn", "uvicorn"],
        default="gunicorn",
        help="the HTTP server: gunicorn (WSGI, as `make serve` runs it) or uvicorn (ASGI)",
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=100_000_000,
        help="readings already stored for the second run (0: no second run)",
    )
    # one run, in a process of its own (Django is set up once per process, on one database)
    parser.add_argument("--run", choices=["empty", "preloaded"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.run:
        options.preloaded = options.run == "preloaded"
        print(RESULT + json.dumps(one_run(options)), flush=True)
        return

    runs = [run_child([*sys.argv[1:], "--run", "empty"])]
    if options.preload:
        runs.append(run_child([*sys.argv[1:], "--run", "preloaded"]))
    copy_temporary, copy_logged = runs[0]["copy_temporary"], runs[0]["copy_logged"]
    print(
        f"raw COPY, same rows, same run (best of 3):  {copy_temporary:,.0f} rows/s into a "
        f"temporary table, {copy_logged:,.0f} into a logged one"
    )
    for run in runs:
        print("preloaded database" if run["preloaded"] else "empty database (the demo city)")
        print("\n".join(report(run, copy_temporary, copy_logged)))
    rates = [run["events"] / run["total_seconds"] for run in runs]
    if len(rates) == 2:
        slower = 1 - rates[1] / rates[0]
        print(
            f"with {options.preload:,} readings stored: {rates[1]:,.0f} events/s against "
            f"{rates[0]:,.0f} empty, {slower:+.1%} slower (target: at most "
            f"{TARGET_SLOWDOWN:.0%})"
        )
    if any(run["lost"] or run["duplicated"] for run in runs):
        sys.exit("FAIL: events were lost or duplicated")


RESULT = "RESULT "


def run_child(arguments: list[str]) -> dict[str, Any]:
    """One run in a process of its own, its output passed on; its figures."""
    child = subprocess.Popen(
        [sys.executable, __file__, *arguments], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    figures: dict[str, Any] | None = None
    for line in child.stdout:
        if line.startswith(RESULT):
            figures = json.loads(line[len(RESULT) :])
        else:
            print(line, end="", flush=True)
    if child.wait() or figures is None:
        sys.exit(f"FAIL: the run {arguments[-1]} stopped ({child.returncode})")
    return figures


if __name__ == "__main__":
    main()
