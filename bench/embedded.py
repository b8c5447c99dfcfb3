"""The embedded demo at rest: what `make run` costs with its simulator and one live screen.

Starts what `make run` runs (``manage.py run_embedded``, which starts ``manage.py
simulate`` as its child) on a fresh data directory, with three differences so that it can
run beside another copy: its own port, its own ``IOC_VAR_DIR`` and its own simulator ports
(``IOC_SIMULATOR_URL``, ``IOC_SIMULATOR_RTSP_PORT``). It waits until the server answers and
the simulator's clips are encoded, logs in as the city operator and opens the live channel
as the browser does (``/ws/ops/?batch=1``), lets it all warm up, then for --seconds
(default 60) measures:

- the server process's CPU (user + system from /proc through psutil) as % of one core: the
  process alone; its child, the simulator, is counted apart with its own children (FFmpeg,
  if a stream is pulled); the server starts no other process in this run (checked, said);
- events ingested a second (events stored in the window: device events, and reading events
  as their readings) and batches left pending;
- live latency of the simulator's readings, p50/p95: push -> screen (the moment the server
  received the POST, its outbox batch's ``received_at``, to the websocket message at the
  client) and the reading's age on screen (its device time to the message; this adds the
  simulator's own batching, up to a second).

Target: at most 15 % of a core for the server. Prints the figures and whether the target
is met; a missed target does not fail the bench.

    python bench/embedded.py [--seconds 60] [--warmup 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ingest import free_port  # noqa: E402

TARGET_PERCENT = 15.0
USERNAME = "operator"


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank, in milliseconds."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def spread(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return (
        f"p50 {percentile(samples, 0.5):6.0f} ms   p95 {percentile(samples, 0.95):6.0f} ms"
        f"   ({len(samples)} readings)"
    )


def wait_for_line(log: Path, pattern: str, timeout: float, process: subprocess.Popen) -> str:
    """The first line of the server's output matching ``pattern`` (regex)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped:\n{log.read_text(errors='replace')[-3000:]}")
        for line in log.read_text(errors="replace").splitlines():
            if re.search(pattern, line):
                return line
        time.sleep(0.5)
    raise SystemExit(f"no line like {pattern!r} in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def login(base: str, password: str) -> str:
    """The operator's session cookie, logging in through the form as a browser does."""
    import httpx

    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as http:
        page = http.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        answer = http.post(
            "/accounts/login/",
            data={
                "username": USERNAME,
                "password": password,
                "csrfmiddlewaretoken": token.group(1),
            },
            headers={"Referer": base + "/accounts/login/"},
        )
        assert answer.status_code == 302, f"login answered {answer.status_code}"
        return "; ".join(f"{name}={value}" for name, value in http.cookies.items())


class Screen:
    """One live client: each device.reading it received, with when."""

    def __init__(self) -> None:
        self.readings: list[tuple[float, str, str]] = []  # (received, device, ts)
        self.messages = 0
        self.measuring = False


async def listen(url: str, cookie: str, screen: Screen, stop: asyncio.Event) -> None:
    """The browser's live channel: snapshot first, then events (batched framing)."""
    import orjson
    from websockets.asyncio.client import connect

    origin = url.replace("ws://", "http://").split("/ws/")[0]
    async with connect(
        url,
        additional_headers={"Origin": origin, "Cookie": cookie},
        max_size=None,
        compression=None,
    ) as socket:
        first = orjson.loads(await asyncio.wait_for(socket.recv(decode=False), 60))
        assert first["type"] == "snapshot", first["type"]
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(socket.recv(decode=False), 1)
            except TimeoutError:
                continue
            received = time.time()
            if not screen.measuring:
                continue
            screen.messages += 1
            message = orjson.loads(raw)
            events = message["events"] if message.get("type") == "batch" else [message]
            for event in events:
                if event.get("type") == "device.reading":
                    data = event["data"]
                    screen.readings.append((received, data["device"], data["ts"]))


def cpu_seconds(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def system_seconds(process: Any) -> float:
    return float(process.cpu_times().system)


def tree_cpu_seconds(process: Any) -> dict[int, float]:
    """CPU seconds of a process and of each of its descendants alive now, by pid."""
    import psutil

    found = {}
    for one in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            found[one.pid] = cpu_seconds(one)
    return found


def stored_counts(database: Path) -> tuple[int, int, int]:
    """(the last device event's id, the last reading's id, batches not yet processed),
    read-only."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        events = db.execute("SELECT coalesce(max(id), 0) FROM cameras_deviceevent").fetchone()[0]
        readings = db.execute("SELECT coalesce(max(id), 0) FROM cameras_reading").fetchone()[0]
        pending = db.execute(
            "SELECT count(*) FROM cameras_ingestbatch WHERE processed_at IS NULL"
        ).fetchone()[0]
    return int(events), int(readings), int(pending)


def events_between(
    database: Path, before: tuple[int, int, int], after: tuple[int, int, int]
) -> int:
    """Events stored between two ``stored_counts``: device events, and reading events
    (stored as their readings alone, each with its event's id)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        reading_events = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT device_id, event_id FROM cameras_reading"
            " WHERE id > ? AND id <= ? AND event_id != '')",
            (before[1], after[1]),
        ).fetchone()[0]
    return after[0] - before[0] + int(reading_events)


def received_at(database: Path, readings: list[tuple[float, str, str]]) -> dict[tuple, float]:
    """When the server received each reading's event (its POST: its outbox batch's
    ``received_at``), by (device, device time)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        codes = {pk: code for code, pk in db.execute("SELECT code, id FROM cameras_device")}
        received: dict[tuple[str, float], float] = {}
        for moment, payload in db.execute(
            "SELECT received_at, payload FROM cameras_ingestbatch WHERE payload != ''"
        ):
            # Django keeps SQLite datetimes as naive UTC text.
            at = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()
            for _pk, device_id, _event_id, _kind, ts, _data in json.loads(payload):
                key = (codes.get(device_id, ""), datetime.fromisoformat(ts).timestamp())
                received[key] = max(received.get(key, 0.0), at)
    found = {}
    for _received, device, ts in readings:
        at = received.get((device, datetime.fromisoformat(ts).timestamp()))
        if at is not None:
            found[(device, ts)] = at
    return found


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM to the server (it stops its simulator), then the whole group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything the group left behind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the checkout to run (default: this one): two versions compared in one sitting",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="also record the server with py-spy over the window (samples holding the GIL, "
        "py-spy's raw format) into FILE; the CPU figure then includes py-spy's pauses",
    )
    options = parser.parse_args()

    import psutil

    var_dir = Path(tempfile.mkdtemp(prefix="ioc-bench-embedded-"))
    port, device_port, rtsp_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        IOC_VAR_DIR=str(var_dir),
        IOC_SIMULATOR_URL=f"http://127.0.0.1:{device_port}",
        IOC_SIMULATOR_RTSP_PORT=str(rtsp_port),
        PYTHONUNBUFFERED="1",
    )
    password = env.get("IOC_DEMO_PASSWORD", "ioc-demo-2026")
    log = var_dir / "server.log"
    command = [sys.executable, "manage.py", "run_embedded", "--port", str(port)]
    started = time.monotonic()
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command,
            cwd=options.root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_line(log, r"IOC ready on", 300, server)
        ready = time.monotonic() - started
        wait_for_line(log, r"clips ready|no camera streams|camera streams on", 300, server)
        wait_for_line(log, r"clips ready|no camera streams", 300, server)
        base = f"http://127.0.0.1:{port}"
        cookie = login(base, password)
        main_process = psutil.Process(server.pid)
        simulators = [
            child for child in main_process.children() if "simulate" in " ".join(child.cmdline())
        ]
        if not simulators:
            raise SystemExit(f"the simulator did not start:\n{log.read_text()[-3000:]}")
        simulator = simulators[0]
        result = asyncio.run(
            measure(
                f"ws://127.0.0.1:{port}/ws/ops/?batch=1",
                cookie,
                main_process,
                simulator,
                var_dir / "ioc.sqlite3",
                options.seconds,
                options.warmup,
                options.profile,
            )
        )
    finally:
        stop_server(server)
    report(result, options.seconds, ready, command, log)
    if options.keep:
        print(f"data directory kept: {var_dir}")
    else:
        shutil.rmtree(var_dir, ignore_errors=True)


async def measure(
    url: str,
    cookie: str,
    server: Any,
    simulator: Any,
    database: Path,
    seconds: float,
    warmup: float,
    profile: str | None = None,
) -> dict[str, Any]:
    """Connect the screen, warm up, then measure for ``seconds``."""
    screen, stop = Screen(), asyncio.Event()
    listening = asyncio.create_task(listen(url, cookie, screen, stop))
    await asyncio.sleep(warmup)
    if listening.done():
        listening.result()  # raises what went wrong
    others = [c for c in server.children(recursive=True) if c.pid != simulator.pid]
    others = [c for c in others if c not in simulator.children(recursive=True)]
    counts_before = stored_counts(database)
    server_before = cpu_seconds(server)
    server_system_before = system_seconds(server)
    simulator_before = tree_cpu_seconds(simulator)
    began = time.time()
    screen.measuring = True
    spy = None
    if profile:
        spy = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "py-spy"),
            *("record", "--pid", str(server.pid), "--duration", str(int(seconds))),
            *("--rate", "100", "--gil", "--format", "raw", "--output", profile),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    await asyncio.sleep(seconds)
    screen.measuring = False
    elapsed = time.time() - began
    server_after = cpu_seconds(server)
    server_system = system_seconds(server) - server_system_before
    simulator_after = tree_cpu_seconds(simulator)
    if spy is not None:
        await spy.wait()
    await asyncio.sleep(2)  # the last readings' batches processed before they are looked up
    counts_after = stored_counts(database)
    stop.set()
    await listening
    looked_up = received_at(database, screen.readings)
    push_to_screen = [
        received - looked_up[(device, ts)]
        for received, device, ts in screen.readings
        if (device, ts) in looked_up
    ]
    age = [
        received - datetime.fromisoformat(ts).timestamp()
        for received, _device, ts in screen.readings
    ]
    simulator_seconds = sum(
        simulator_after[pid] - simulator_before.get(pid, 0.0) for pid in simulator_after
    )
    return {
        "elapsed": elapsed,
        "server_cpu": (server_after - server_before) / elapsed * 100,
        "server_system": server_system / elapsed * 100,
        "simulator_cpu": simulator_seconds / elapsed * 100,
        "simulator_processes": len(simulator_after),
        "other_children": [" ".join(c.cmdline()[:3]) for c in others],
        "events": events_between(database, counts_before, counts_after) / elapsed,
        "readings": (counts_after[1] - counts_before[1]) / elapsed,
        "pending": counts_after[2],
        "messages": screen.messages,
        "push_to_screen": push_to_screen,
        "age": age,
        "unmatched": len(screen.readings) - len(push_to_screen),
    }


def report(result: dict[str, Any], seconds: float, ready: float, command: list[str], log: Path):
    """Print the figures."""
    print(f"command: {' '.join(command[1:])}  (ready in {ready:.0f} s)")
    print(f"measured over {result['elapsed']:.1f} s, one live client (operator, batch framing)")
    print(
        f"server process CPU:        {result['server_cpu']:5.1f} % of a core "
        f"({result['server_system']:.1f} % in the kernel; the process alone, which starts "
        "no other process but the simulator"
        + (f"; also running: {result['other_children']}" if result["other_children"] else "")
        + ")"
    )
    print(
        f"simulator CPU:             {result['simulator_cpu']:5.1f} % of a core "
        f"({result['simulator_processes']} process(es): the simulator and its children)"
    )
    print(
        f"ingested:                  {result['events']:5.1f} events/s "
        f"({result['readings']:.1f} readings/s stored; {result['pending']} batches pending "
        "at the end)"
    )
    print(f"live messages received:    {result['messages']}")
    print(f"live latency push->screen: {spread(result['push_to_screen'])}")
    print(f"reading's age on screen:   {spread(result['age'])} (includes the simulator's batching)")
    if result["unmatched"]:
        print(f"  ({result['unmatched']} readings not matched to a stored event)")
    met = result["server_cpu"] <= TARGET_PERCENT
    print(
        f"target: server <= {TARGET_PERCENT:.0f} % of a core: "
        + ("met" if met else f"NOT met ({result['server_cpu']:.1f} %)")
    )


if __name__ == "__main__":
    main()
