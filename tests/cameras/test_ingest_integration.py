"""Ingest with real processes on PostgreSQL and Redis: accepted means durable.

A worker killed with SIGKILL mid-stream, and a Redis that comes back without its data,
lose no accepted batch and store nothing twice.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings
from django.utils import timezone

from cameras.models import Device, Gateway, IngestBatch, Reading
from cameras.services.ingest.batch import BATCHES_PER_TRANSACTION
from cameras.services.registry import token_issue
from tests.support import OWN_WARD, Stack, gateway_code, wait_for

pytestmark = pytest.mark.integration

# A worker takes up to BATCHES_PER_TRANSACTION batches at a time: eight transactions' worth,
# so that the kill lands mid-stream (with 16, a fast worker finished both of its
# transactions between two polls of the test, and there was nothing left to lose).
BATCHES = 8 * BATCHES_PER_TRANSACTION
PER_BATCH = 500  # two metrics each: 1,000 readings a batch


def batch_events(devices: list[str], tag: str, b: int, start: datetime) -> list[dict[str, Any]]:
    """The ``b``-th batch of readings a gateway sends from ``start``."""
    return [
        {
            "id": f"{tag}-{b}-{n}",
            "device": devices[n % len(devices)],
            # a millisecond apart: the clock stays within the accepted few minutes
            "ts": (start + timedelta(milliseconds=b * PER_BATCH + n)).isoformat(),
            "type": "reading",
            "data": {"pm25": float(n % 80), "pm10": float(n % 120)},
        }
        for n in range(PER_BATCH)
    ]


def post_batches(
    url: str,
    token: str,
    devices: list[str],
    batches: int,
    tag: str,
    start: datetime | None = None,
) -> int:
    """Push reading batches as a gateway would; returns the events accepted."""
    accepted = 0
    start = start or timezone.now()  # newer than anything the demo devices reported
    with httpx.Client(base_url=url, timeout=30) as client:
        for b in range(batches):
            events = batch_events(devices, tag, b, start)
            response = client.post(
                "/api/v1/ingest/events",
                json={"events": events},
                headers={"Authorization": f"Gateway {token}"},
            )
            assert response.status_code == 202, response.text
            accepted += response.json()["accepted"]
    return accepted


def gateway_with_devices() -> tuple[str, list[str]]:
    gateway = Gateway.objects.get(code=gateway_code(OWN_WARD))
    devices = list(Device.objects.filter(gateway=gateway).values_list("code", flat=True))
    return token_issue(owner=gateway, actor_label="test"), devices


def all_processed() -> bool:
    return not IngestBatch.objects.filter(processed_at__isnull=True).exists()


def events_stored(prefix: str) -> int:
    """Reading events stored (as their readings, each with its event's id)."""
    readings = Reading.objects.filter(event_id__startswith=prefix)
    return readings.values("device_id", "event_id").distinct().count()


def test_batch_flows_from_http_through_a_real_worker(stack: Stack) -> None:
    token, devices = gateway_with_devices()
    url = stack.server()
    stack.worker()
    assert post_batches(url, token, devices, 2, "flow") == 2 * PER_BATCH
    wait_for(all_processed, 60, "the worker to process both batches")
    assert Reading.objects.count() == 2 * PER_BATCH * 2
    assert Device.objects.filter(code__in=devices, latest__has_key="pm25").count() == len(devices)


def test_worker_killed_mid_stream_loses_nothing_and_stores_nothing_twice(stack: Stack) -> None:
    token, devices = gateway_with_devices()
    url = stack.server(IOC_INGEST_REQUESTS_PER_SECOND="0")  # BATCHES posts in a burst
    assert post_batches(url, token, devices, BATCHES, "kill") == BATCHES * PER_BATCH
    # Redelivery of the killed worker's unacknowledged task after 5 s, and the sweeper
    # (run by beat) re-queueing anything still unprocessed after 5 s.
    fast = {
        "IOC_VISIBILITY_TIMEOUT": "5",
        "IOC_INGEST_SWEEP_SECONDS": "2",
        "IOC_INGEST_STALE_SECONDS": "5",
    }
    first = stack.worker(**fast)
    wait_for(
        lambda: IngestBatch.objects.filter(processed_at__isnull=False).count() >= 2,
        60,
        "the first worker to process a few batches",
    )
    stack.kill(first)
    done = IngestBatch.objects.filter(processed_at__isnull=False).count()
    assert done < BATCHES, "the worker finished everything before it could be killed"
    stack.worker(**fast)
    stack.beat(**fast)
    wait_for(all_processed, 120, "every batch to be processed after the kill")
    assert events_stored("kill-") == BATCHES * PER_BATCH
    assert Reading.objects.count() == BATCHES * PER_BATCH * 2


def test_redis_losing_its_data_loses_no_accepted_batch(stack: Stack) -> None:
    token, devices = gateway_with_devices()
    url = stack.server()
    assert post_batches(url, token, devices, 4, "flush") == 4 * PER_BATCH
    # Redis restarts without its data: the queued tasks are gone.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    fast = {"IOC_INGEST_SWEEP_SECONDS": "2", "IOC_INGEST_STALE_SECONDS": "3"}
    stack.worker(**fast)
    time.sleep(3)
    assert IngestBatch.objects.filter(processed_at__isnull=True).count() == 4
    stack.beat(**fast)
    wait_for(all_processed, 60, "the sweeper to re-queue the lost batches")
    assert Reading.objects.count() == 4 * PER_BATCH * 2
    assert events_stored("flush-") == 4 * PER_BATCH


def test_a_retried_batch_after_processing_is_all_duplicates(stack: Stack) -> None:
    token, devices = gateway_with_devices()
    url = stack.server()
    stack.worker()
    start = timezone.now()
    post_batches(url, token, devices, 1, "again", start)
    wait_for(all_processed, 60, "the batch to be processed")
    with httpx.Client(base_url=url, timeout=30) as client:
        # The same events again, as a gateway retries them: an event is identified by its
        # device, id and time.
        response = client.post(
            "/api/v1/ingest/events",
            json={"events": batch_events(devices, "again", 0, start)},
            headers={"Authorization": f"Gateway {token}"},
        )
    assert response.json() == {"accepted": 0, "duplicates": PER_BATCH}
    assert Reading.objects.count() == PER_BATCH * 2
