"""`make serve` under supervisord, with real processes: a process that dies is started
again by itself, and the platform goes on (issue 13, reliability 2: a Redis restart killed
the Celery worker, and under honcho one exiting process stopped the whole platform)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from cameras.choices import DeviceKind
from cameras.models import Device, IngestBatch
from cameras.services.registry import token_issue
from tests.support import free_port, process_env, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SUPERVISORD = Path(sys.executable).parent / "supervisord"
SUPERVISORCTL = Path(sys.executable).parent / "supervisorctl"


class Supervised:
    """supervisord running deploy/supervisord.conf against this test's database."""

    def __init__(self, var_dir: Path, log: Path) -> None:
        self.env = process_env(
            IOC_VAR_DIR=str(var_dir),
            IOC_PORT=str(free_port()),
            IOC_WS_PORT=str(free_port()),
            WEB_CONCURRENCY="1",
            WORKER_CONCURRENCY="1",
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def supervised(demo_city_committed: Any, tmp_path: Path) -> Iterator[Supervised]:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    running = Supervised(var_dir, tmp_path / "supervisord.log")
    try:
        yield running
    finally:
        running.stop()


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_worker_is_started_again_and_processes_what_was_accepted_meanwhile(
    supervised: Supervised,
) -> None:
    device = Device.objects.filter(kind=DeviceKind.SENSOR).order_by("code").first()
    assert device is not None
    token = token_issue(owner=device, actor_label="test")
    wait_for(lambda: healthy(supervised.url), 60, "gunicorn under supervisord to answer")
    wait_for(lambda: supervised.pid("worker") > 0, 60, "the worker to start")
    first = supervised.pid("worker")

    os.kill(first, signal.SIGKILL)
    # Accepted while no worker runs: the outbox keeps it for the worker that comes back.
    response = httpx.post(
        f"{supervised.url}/api/v1/ingest/events",
        json={
            "events": [
                {
                    "id": "after-the-kill",
                    "device": device.code,
                    "ts": timezone.now().isoformat(),
                    "type": "reading",
                    "data": {"pm25": 42.0},
                }
            ]
        },
        headers={"Authorization": f"Device {token}"},
        timeout=10,
    )

    assert response.status_code == 202, response.text
    wait_for(
        lambda: supervised.pid("worker") not in {0, first}, 60, "supervisord to restart the worker"
    )
    wait_for(
        lambda: not IngestBatch.objects.filter(processed_at__isnull=True).exists(),
        90,
        "the restarted worker to process the batch accepted while it was down",
    )
    assert Device.objects.get(pk=device.pk).latest["pm25"] == 42.0
    assert "RUNNING" in supervised.ctl("status", "web")
