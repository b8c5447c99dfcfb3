"""The embedded server's in-process ingest (``ioc.embedded.ingest_runner``): batches
accepted together are processed together, each event once, nothing lost, and a reading
still goes live at once."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone

from cameras.choices import DeviceStatus
from cameras.models import Device, Gateway, IngestBatch, Reading
from cameras.services.registry import token_issue
from ioc import inprocess
from ioc.embedded import ingest_runner
from tests.support import OWN_WARD, gateway_code, group_listener, runner_serving, wait_for

URL = "/api/v1/ingest/events"
# What the embedded server promised before batches were gathered: the reading published
# before the 202 answered, and so well within this of its POST.
LIVE_BOUND_SECONDS = 0.5


@pytest.fixture
def sensors(demo_city_committed: Any) -> tuple[str, list[str]]:
    """A gateway token and the codes of four devices it pushes for, never heard from."""
    cache.clear()  # rate-limit windows
    gateway = Gateway.objects.get(code=gateway_code(OWN_WARD))
    codes = list(
        Device.objects.filter(gateway=gateway).order_by("code").values_list("code", flat=True)
    )[:4]
    Device.objects.filter(code__in=codes).update(
        last_seen_at=None, last_received_at=None, status=DeviceStatus.ONLINE, latest={}
    )
    return token_issue(owner=gateway, actor_label="test"), codes


def post(token: str, events: list[dict[str, Any]]) -> dict[str, int]:
    response = Client().post(
        URL,
        orjson.dumps({"events": events}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Gateway {token}",
    )
    assert response.status_code == 202, response.content
    return dict(response.json())


def reading(device: str, event_id: str, ts: datetime, value: float) -> dict[str, Any]:
    return {
        "id": event_id,
        "device": device,
        "ts": ts.isoformat(),
        "type": "reading",
        "data": {"pm25": value},
    }


def pending() -> bool:
    return IngestBatch.objects.filter(processed_at__isnull=True).exists()


@override_settings(IOC_INGEST_GATHER_SECONDS=0.5)
def test_batches_accepted_together_are_processed_together_each_event_once(
    sensors: tuple[str, list[str]],
) -> None:
    token, codes = sensors
    start = timezone.now() - timedelta(minutes=5)
    batches = [
        [reading(code, f"b{b}-{code}", start + timedelta(seconds=b), b) for code in codes]
        for b in range(6)
    ]
    with runner_serving(ingest_runner()):
        answers = [post(token, batch) for batch in batches]
        assert pending(), "handed over, not processed in the request"
        wait_for(lambda: not pending(), 10, "every accepted batch processed")
        again = post(token, batches[0])  # a gateway's retry
        time.sleep(0.7)

    events = sum(len(batch) for batch in batches)
    assert answers == [{"accepted": len(codes), "duplicates": 0}] * len(batches)
    assert again == {"accepted": 0, "duplicates": len(codes)}
    stored = Reading.objects.filter(metric="pm25", ts__gte=start)
    assert stored.count() == stored.values("event_id").distinct().count() == events
    rows = list(IngestBatch.objects.values_list("processed_at", "attempts"))
    assert len(rows) == len(batches)
    assert {attempts for _at, attempts in rows} == {1}
    # One transaction marks its batches with one moment: six requests, one or two commits.
    assert len({processed_at for processed_at, _attempts in rows}) <= 2
    for code in codes:
        latest = Device.objects.get(code=code).latest
        assert latest["pm25"] == len(batches) - 1


@pytest.mark.embedded
@pytest.mark.skipif(not settings.EMBEDDED, reason="tasks run in the request only when embedded")
def test_without_the_server_a_batch_is_still_processed_in_its_request(
    sensors: tuple[str, list[str]],
) -> None:
    token, codes = sensors
    assert not inprocess.serving("ingest")
    post(token, [reading(codes[0], "alone", timezone.now(), 7.0)])
    assert not pending()
    assert Device.objects.get(code=codes[0]).latest["pm25"] == 7.0


def test_a_reading_goes_live_as_soon_as_before(sensors: tuple[str, list[str]]) -> None:
    token, codes = sensors
    with group_listener() as listener, runner_serving(ingest_runner()):
        city = listener.join("city")
        posted = time.time()
        post(token, [reading(codes[0], "live", timezone.now(), 42.0)])
        wait_for(lambda: not pending(), 5, "the batch processed")
        message = listener.receive(city, timeout=2)["event"]
        while message["type"] != "device.reading":
            message = listener.receive(city, timeout=2)["event"]
    assert message["data"]["device"] == codes[0]
    assert message["data"]["values"] == {"pm25": 42.0}
    published = datetime.fromisoformat(message["at"]).timestamp()
    assert published - posted < LIVE_BOUND_SECONDS
