"""Ingest throughput on the production-shaped stack, end to end.

Starts, against a scratch PostgreSQL database and Redis: the HTTP server (gunicorn, 2
processes, as `make serve` runs it; ``--web uvicorn`` for the ASGI server instead) and one
Celery worker (2 processes) on the ingest queue; loads the demo city;
pushes batches of 500 readings through POST /api/v1/ingest/events from concurrent
clients as the ward gateways would; and waits until every accepted batch is processed.
It prints sustained events/s from the first request until the last batch is in the
database, the events lost and duplicated (both must be 0), and, in the same run, the rate
of a raw COPY of the same rows into a bare table, so the ratio does not depend on the
machine.

    python bench/ingest.py [--events 200000] [--clients 8] [--batch 500]

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ioc_bench,
dropped and recreated, and dropped again at the end), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/5, flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
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
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")


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
    options = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="ioc-bench-")
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "IOC_VAR_DIR": var_dir,
        "IOC_INGEST_REQUESTS_PER_SECOND": "0",
        "IOC_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    recreate_database()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "load_demo"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    setup_django(env)

    from cameras.models import Device, DeviceEvent, Gateway, IngestBatch, Reading
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

        began = time.perf_counter()
        accepted, duplicates, http_seconds = asyncio.run(push())
        while IngestBatch.objects.filter(processed_at__isnull=True).exists():
            time.sleep(0.05)
        total_seconds = time.perf_counter() - began
        stored_events = DeviceEvent.objects.filter(event_id__startswith="b").count()
        stored_readings = Reading.objects.count()
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(30)

    copy_rate = raw_copy_rate(expected_events)
    lost = expected_events - stored_events
    duplicated = stored_readings - 2 * stored_events
    end_to_end = expected_events / total_seconds
    rows = [
        ("events sent", f"{expected_events:,} in {batches:,} batches of {options.batch}"),
        (
            "HTTP accepted",
            f"{accepted:,} (+{duplicates} duplicates) in {http_seconds:.1f} s"
            f" = {accepted / http_seconds:,.0f} events/s",
        ),
        (
            "end to end into PostgreSQL",
            f"{total_seconds:.1f} s = {end_to_end:,.0f} events/s sustained",
        ),
        ("events lost", str(lost)),
        ("readings duplicated", str(duplicated)),
        (
            "raw COPY, same rows",
            f"{copy_rate:,.0f} rows/s (end to end = {end_to_end / copy_rate:.1%} of it)",
        ),
    ]
    for label, value in rows:
        print(f"{label + ':':<29}{value}")
    from django.db import connections

    connections.close_all()
    drop_database()
    if lost or duplicated:
        sys.exit("FAIL: events were lost or duplicated")


def raw_copy_rate(rows: int) -> float:
    """COPY of readings-shaped rows into a bare table with a primary key and one index."""
    from django.db import connection

    buffer = io.StringIO()
    now = datetime.now(UTC).isoformat()
    for n in range(rows):
        buffer.write(f"{n % 300 + 1}\tpm25\t{now}\t{float(n % 90)}\n")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_copy (id bigserial PRIMARY KEY, device_id bigint,"
            " metric varchar(32), ts timestamptz, value double precision)"
        )
        cursor.execute("CREATE INDEX ON bench_copy (device_id, metric, ts)")
    buffer.seek(0)
    began = time.perf_counter()
    with connection.connection.cursor() as raw:
        raw.copy_expert("COPY bench_copy (device_id, metric, ts, value) FROM STDIN", buffer)
    connection.connection.commit()
    return rows / (time.perf_counter() - began)


if __name__ == "__main__":
    main()
