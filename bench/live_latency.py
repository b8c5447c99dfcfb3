"""Event -> browser latency on the production-shaped stack, under ingest load.

Starts, as real processes against a scratch PostgreSQL database and Redis: gunicorn (HTTP,
2 processes), uvicorn (the websockets, ``ioc.asgi:application``, 1 process) and one Celery
worker (2 processes) on the ingest queue, as the Procfile does; loads the demo city;
connects --clients websocket clients to /ws/ops/?batch=1 (the browser's framing) logged in
as the city operator; then
pushes readings through POST /api/v1/ingest/events with gateway tokens, in batches of
--batch, at --rate events/s for --seconds.

Every event carries as ``ts`` the moment its POST was issued; the live message a reading
causes carries it back (``data.ts``), so for each (event, client) pair the latency is the
time the client received it minus the time the POST was issued. Prints p50/p95/p99
(target p95 <= 250 ms), the messages and events received, and sequence gaps.

    python bench/live_latency.py [--clients 500] [--rate 5000] [--seconds 30]

Environment: BENCH_LIVE_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/ioc_bench_live, dropped and recreated, and dropped again
at the end), BENCH_REDIS_URL (default redis://127.0.0.1:6379/5), IOC_CHANNEL_PREFIX
(default ``bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import drop_database, free_port, quiesce, recreate_database  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_LIVE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc_bench_live"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
# The Procfile's processes (web, ws, worker), with the bench's ports added.
GUNICORN = ["-m", "gunicorn", "ioc.wsgi:application", "--workers", "2", "--log-level", "warning"]
UVICORN = ["-m", "uvicorn", "ioc.asgi:application", "--host", "127.0.0.1", "--no-access-log"]
UVICORN += ["--lifespan", "off"]
WORKER = ["-m", "celery", "-A", "ioc", "worker", "--queues", "ingest,default", "--concurrency"]
WORKER += ["2", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"]


def percentiles(samples: array) -> str:
    """p50 / p95 / p99 in milliseconds."""
    if not samples:
        return "no samples"
    ordered = sorted(samples)

    def pick(q: float) -> float:
        # Nearest rank: the smallest sample with at least q of the samples at or below it.
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    return f"p50 {pick(0.5):7.1f} ms   p95 {pick(0.95):7.1f} ms   p99 {pick(0.99):7.1f} ms"


def start(args: list[str], env: dict[str, str], log_dir: str, name: str) -> subprocess.Popen:
    """A platform process in its own process group, its output in a log file."""
    log = open(Path(log_dir) / f"{name}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


_EPOCHS: dict[str, float] = {}


def epoch(text: str) -> float:
    """Seconds since 1970 of an ISO 8601 time; memoised, since all clients get the same
    strings."""
    value = _EPOCHS.get(text)
    if value is None:
        value = _EPOCHS[text] = datetime.fromisoformat(text).timestamp()
    return value


class Message:
    """What one distinct live message carried, decoded once for all clients that got it.

    Every client of a group receives the same text; decoding it 500 times would spend the
    CPU the servers are measured on (a browser decodes it on its own machine).
    """

    __slots__ = ("counted", "events", "issued", "published", "seqs")

    def __init__(self, raw: bytes) -> None:
        import orjson

        message = orjson.loads(raw)
        kind = message.get("type")
        self.counted = kind not in ("snapshot", "heartbeat", "pong")
        # The browser's framing (batch=1): events gathered together arrive in one message.
        events = message["events"] if kind == "batch" else [message]
        self.events = len(events) if self.counted else 0
        self.seqs = [
            (event["group"], event["seq"])
            for event in events
            if self.counted and event.get("group") and isinstance(event.get("seq"), int)
        ]
        # An event's "at" is when the worker published it; a reading's data.ts is when
        # its POST was issued.
        self.published = [epoch(event["at"]) for event in events if event.get("at")]
        self.issued = [
            (epoch(event["data"]["ts"]), epoch(event["at"]) if event.get("at") else None)
            for event in events
            if event.get("type") == "device.reading" and event.get("data", {}).get("ts")
        ]


class Client:
    """One websocket client: when it received which message (worked out after the run)."""

    def __init__(self) -> None:
        self.received = array("d")
        self.messages: list[Message] = []
        self.measured = array("b")  # received while the bench was measuring


def tally(clients: list[Client]) -> dict[str, Any]:
    """Latencies, counts and sequence gaps from what the clients recorded."""
    latencies, fanout, server = array("d"), array("d"), array("d")
    messages = events = gaps = 0
    for number, client in enumerate(clients):
        last: dict[str, int] = {}
        for received, message, measured in zip(
            client.received, client.messages, client.measured, strict=True
        ):
            if not message.counted:
                continue
            messages += 1
            events += message.events
            for group, seq in message.seqs:
                if group in last and seq > last[group] + 1:
                    gaps += 1
                last[group] = seq
            if not measured:
                continue
            fanout.extend(received - sent for sent in message.published)
            for issued, sent in message.issued:
                latencies.append(received - issued)
                if number == 0 and sent is not None:  # the server side, counted once
                    server.append(sent - issued)
    return {
        "latencies": latencies,
        "fanout": fanout,
        "server": server,
        "messages": messages,
        "events": events,
        "gaps": gaps,
    }


async def run_clients(
    ws_url: str, cookie: str, count: int, ready: asyncio.Event, stop: asyncio.Event
) -> tuple[list[Client], int]:
    """Connect ``count`` clients (in waves), wait for their snapshots, then listen."""
    from websockets.asyncio.client import connect

    clients = [Client() for _ in range(count)]
    distinct: dict[bytes, Message] = {}
    measuring = [False]
    connected = 0

    async def one(client: Client) -> None:
        nonlocal connected
        async with connect(
            ws_url,
            additional_headers={"Origin": ws_url.replace("ws://", "http://"), "Cookie": cookie},
            open_timeout=120,
            max_size=None,
            ping_interval=None,
            compression=None,
        ) as socket:
            first = await asyncio.wait_for(socket.recv(decode=False), 120)
            assert b'"snapshot"' in first
            connected += 1
            # A plain recv per message (the listeners are cancelled at the end): wrapping
            # each in wait_for costs a task and a timer, CPU the servers are measured on.
            while True:
                raw = await socket.recv(decode=False)
                received = time.time()
                message = distinct.get(raw)
                if message is None:
                    message = distinct[raw] = Message(raw)
                client.received.append(received)
                client.messages.append(message)
                client.measured.append(measuring[0])

    tasks = []
    for n, client in enumerate(clients):
        tasks.append(asyncio.create_task(one(client)))
        if n % 50 == 49:
            await asyncio.sleep(0.5)
    while connected < count and not all(t.done() for t in tasks):
        await asyncio.sleep(0.2)
    measuring[0] = True
    ready.set()
    await stop.wait()
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [
        r
        for r in results
        if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
    ]
    if failures:
        print(f"clients failed: {len(failures)} (first: {failures[0]!r})")
    return clients, connected


async def push(
    base: str,
    gateways: list[tuple[str, list[str]]],
    rate: int,
    batch: int,
    seconds: float,
) -> tuple[int, int, float, array]:
    """POST batches at ``rate`` events/s for ``seconds``; each event's ts is the moment its
    POST is issued. Returns accepted events, batches, elapsed time and POST durations."""
    import httpx
    import orjson

    rng = random.Random(5000)
    interval = batch / rate
    accepted = 0
    durations = array("d")
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def one(number: int) -> None:
            nonlocal accepted
            token, devices = gateways[number % len(gateways)]
            events = [
                {
                    "id": f"l{number}-{n}",
                    "device": devices[rng.randrange(len(devices))],
                    "ts": "",
                    "type": "reading",
                    "data": {"pm25": round(rng.uniform(5, 45), 1)},
                }
                for n in range(batch)
            ]
            issued = datetime.now(UTC).isoformat()
            for event in events:
                event["ts"] = issued
            began = time.perf_counter()
            response = await http.post(
                "/api/v1/ingest/events",
                content=orjson.dumps({"events": events}),
                headers={"Authorization": f"Gateway {token}", "Content-Type": "application/json"},
            )
            durations.append(time.perf_counter() - began)
            if response.status_code == 202:
                accepted += response.json()["accepted"]

        began = time.perf_counter()
        tasks = []
        number = 0
        while time.perf_counter() - began < seconds:
            tasks.append(asyncio.create_task(one(number)))
            number += 1
            await asyncio.sleep(max(0.0, began + number * interval - time.perf_counter()))
        await asyncio.gather(*tasks)
        return accepted, number, time.perf_counter() - began, durations


def pusher(go: Any, results: Any, *arguments: Any) -> None:
    """The load generator, in a process of its own: the clients' event loop, busy with 500
    sockets, must not delay the POSTs (their ``ts`` would no longer be when they left)."""
    go.wait()
    accepted, batches, elapsed, durations = asyncio.run(push(*arguments))
    results.put((accepted, batches, elapsed, list(durations)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rate", type=int, default=5000, help="events per second")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    options = parser.parse_args()

    log_dir = tempfile.mkdtemp(prefix="ioc-bench-live-")
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "IOC_CHANNEL_PREFIX": os.environ.get("IOC_CHANNEL_PREFIX", "bench"),
        "IOC_VAR_DIR": log_dir,
        "IOC_INGEST_REQUESTS_PER_SECOND": "0",
        "IOC_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "ioc.settings",
        "PYTHONUNBUFFERED": "1",
    }
    recreate_database(DATABASE_URL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "load_demo"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client as DjangoClient

    from cameras.models import Device, Gateway, IngestBatch
    from cameras.services.registry import token_issue
    from ioc.models import User

    gateways = []
    for gateway in Gateway.objects.order_by("code"):
        devices = list(Device.objects.filter(gateway=gateway).values_list("code", flat=True))
        if devices:
            gateways.append((token_issue(owner=gateway, actor_label="bench"), devices))
    web_client = DjangoClient()
    web_client.force_login(User.objects.get(username="operator"))
    cookie = (
        f"{settings.SESSION_COOKIE_NAME}={web_client.cookies[settings.SESSION_COOKIE_NAME].value}"
    )
    from django.db import connections

    connections.close_all()

    http_port, ws_port = free_port(), free_port()
    processes_extra: list[Any] = []
    processes = [
        start(
            [*GUNICORN, "--bind", f"127.0.0.1:{http_port}"],
            env,
            log_dir,
            "web",
        ),
        start(
            [*UVICORN, "--port", str(ws_port)],
            env,
            log_dir,
            "ws",
        ),
        start(
            [*WORKER, "--hostname", f"bench-{http_port}@%h"],
            env,
            log_dir,
            "worker",
        ),
    ]
    try:
        import httpx

        for port in (http_port, ws_port):
            for _ in range(150):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        time.sleep(3)  # the worker's start

        import multiprocessing

        context = multiprocessing.get_context("fork")
        go, results = context.Event(), context.Queue()
        load_shape = (options.rate, options.batch, options.seconds)
        load = context.Process(
            target=pusher,
            args=(go, results, f"http://127.0.0.1:{http_port}", gateways, *load_shape),
            daemon=True,
        )
        load.start()
        processes_extra.append(load)

        async def scenario() -> tuple[list[Client], int, tuple[int, int, float, array], float]:
            ready, stop = asyncio.Event(), asyncio.Event()
            listening = asyncio.create_task(
                run_clients(
                    f"ws://127.0.0.1:{ws_port}/ws/ops/?batch=1",
                    cookie,
                    options.clients,
                    ready,
                    stop,
                )
            )
            connect_began = time.perf_counter()
            await ready.wait()
            connect_seconds = time.perf_counter() - connect_began
            go.set()
            accepted, batches, elapsed, durations = await asyncio.to_thread(results.get)
            pushed = (accepted, batches, elapsed, array("d", durations))
            # Let the queue drain (bounded), then stop listening.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                pending = await asyncio.to_thread(
                    lambda: IngestBatch.objects.filter(processed_at__isnull=True).count()
                )
                if not pending:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)
            stop.set()
            clients, connected = await listening
            return clients, connected, pushed, connect_seconds

        quiesce(DATABASE_URL)
        clients, connected, pushed, connect_seconds = asyncio.run(scenario())
        unprocessed = IngestBatch.objects.filter(processed_at__isnull=True).count()
        processing = array(
            "d",
            (
                (done - received).total_seconds()
                for received, done in IngestBatch.objects.filter(
                    processed_at__isnull=False
                ).values_list("received_at", "processed_at")
            ),
        )
    finally:
        for extra in processes_extra:
            extra.kill()
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    accepted, batches, elapsed, durations = pushed
    found = tally(clients)
    latencies, fanout = found["latencies"], found["fanout"]
    messages, events, gaps = found["messages"], found["events"], found["gaps"]
    rows = [
        (
            "websocket clients",
            f"{connected:,} of {options.clients:,} (connected in {connect_seconds:.1f} s)",
        ),
        (
            "ingested",
            f"{accepted:,} events in {batches:,} POSTs of {options.batch} over {elapsed:.1f} s"
            f" = {accepted / elapsed:,.0f} events/s (POST {percentiles(durations)})",
        ),
        ("batches left unprocessed", str(unprocessed)),
        (
            "live messages received",
            f"{messages:,} ({messages / max(1, connected):,.0f} a client)"
            f", carrying {events:,} events",
        ),
        ("sequence gaps seen", str(gaps)),
        ("event -> browser latency", f"{percentiles(latencies)}   target p95 <= 250 ms"),
        ("  where: batch accepted -> processed", percentiles(processing)),
        (
            "  POST issued -> message sent",
            percentiles(found["server"]),
        ),
        ("  event published -> client", percentiles(fanout)),
        ("(event, client) samples", f"{len(latencies):,}"),
        ("process logs", log_dir),
    ]
    for label, value in rows:
        print(f"{label + ':':<38}{value}")
    from django.db import connections

    connections.close_all()
    drop_database(DATABASE_URL)


if __name__ == "__main__":
    main()
