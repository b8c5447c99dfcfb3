"""The embedded mode's in-process beat runs the schedule's tasks eagerly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from ioc.celery import app as celery_app
from ioc.embedded import run_beat
from tests.support import group_listener

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(not settings.EMBEDDED, reason="the in-process beat is embedded-only"),
]


@pytest.fixture
def quick_schedule() -> Iterator[None]:
    """Only the heartbeat, every 0.2 s, for the duration of a test."""
    saved = celery_app.conf.beat_schedule
    celery_app.conf.beat_schedule = {
        "heartbeat": {"task": "ioc.tasks.realtime_heartbeat_task", "schedule": 0.2}
    }
    try:
        yield
    finally:
        celery_app.conf.beat_schedule = saved


def test_in_process_beat_runs_due_tasks_eagerly(quick_schedule: None, demo_city: Any) -> None:
    with group_listener() as listener:
        city = listener.join("city")

        async def run_briefly() -> None:
            beat = asyncio.ensure_future(run_beat(max_interval=0.1))
            await asyncio.sleep(1.0)
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

        asyncio.run(run_briefly())
        message = listener.receive(city, timeout=1.0)
    assert message["event"]["type"] == "heartbeat"


def test_the_embedded_broker_address_starts_without_a_kombu_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The in-process beat's producer copies its connection; an address without a host
    made kombu warn 'No hostname was supplied' at every `make run`."""
    import logging

    from kombu import Connection

    with caplog.at_level(logging.WARNING, logger="kombu.connection"):
        Connection(settings.CELERY_BROKER_URL).clone()

    assert settings.CELERY_BROKER_URL.startswith("memory://")
    assert [r.getMessage() for r in caplog.records] == []
