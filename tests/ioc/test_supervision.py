"""`make serve` under supervisord, with real processes: a process that dies is started
again by itself, and the platform goes on (issue 13, reliability 2: a Redis restart killed
the Celery worker, and under honcho one exiting process stopped the whole platform)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from cameras.choices import DeviceKind
from cameras.models import Device, IngestBatch
from cameras.services.registry import token_issue
from tests.support import wait_for
from tests.support.faults import Supervised

pytestmark = pytest.mark.integration


@pytest.fixture
def supervised(demo_city_committed: Any, tmp_path: Path) -> Iterator[Supervised]:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    running = Supervised(var_dir, tmp_path / "supervisord.log")
    try:
        yield running
    finally:
        running.stop()


def test_a_killed_worker_is_started_again_and_processes_what_was_accepted_meanwhile(
    supervised: Supervised,
) -> None:
    device = Device.objects.filter(kind=DeviceKind.SENSOR).order_by("code").first()
    assert device is not None
    token = token_issue(owner=device, actor_label="test")
    supervised.wait_ready()
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
