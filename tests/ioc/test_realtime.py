"""ioc.realtime: events leave only after commit, reach ``city`` and their ward's group only."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from ioc import realtime
from ioc.realtime import Event, EventType, delivery, publish, send_to_groups, ward_group
from ioc.realtime import batcher as batcher_module
from ioc.realtime.batcher import Batcher
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import GroupListener

AT = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def alert_event(**data: Any) -> Event:
    return Event(type=EventType.ALERT_RAISED, ward=OWN, data=data, at=AT)


def test_published_event_waits_for_commit_then_reaches_city_and_its_ward(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city = listener.join(realtime.CITY_GROUP)
    own = listener.join(ward_group(OWN))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish(alert_event(level=3, seen_at=AT, reading=Decimal("1.5")))

    assert len(callbacks) == 1
    listener.assert_silent(city)  # nothing leaves before the commit
    callbacks[0]()

    expected = {
        "type": "ops.event",
        "event": {
            "type": "alert.raised",
            "ward": OWN,
            "at": "2026-03-01T08:30:00+00:00",
            "data": {"level": 3, "seen_at": "2026-03-01T08:30:00Z", "reading": "1.5"},
        },
    }
    for group, channel in (("city", city), (f"ward.{OWN}", own)):
        message = listener.receive(channel)
        event = message["event"]
        # Each group numbers its own messages: a client sees a gap as a missed event.
        assert event.pop("group") == group
        assert isinstance(event.pop("seq"), int)
        assert event.pop("epoch")  # the group's counter's epoch: another means it restarted
        # The channel-layer message names its group too (the consumers' fan-out reads it).
        assert message.pop("group") == group
        assert message == expected


def test_event_does_not_reach_another_wards_group(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    own = listener.join(ward_group(OWN))
    other = listener.join(ward_group(OTHER))

    with django_capture_on_commit_callbacks(execute=True):
        publish(alert_event(level=1))

    assert listener.receive(own)["event"]["ward"] == OWN
    listener.assert_silent(other)


def test_event_without_a_ward_goes_to_city_only(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city = listener.join(realtime.CITY_GROUP)
    own = listener.join(ward_group(OWN))

    with django_capture_on_commit_callbacks(execute=True):
        publish(Event(type=EventType.SIGNAL_COMMAND, ward="", data={"plan": "peak"}, at=AT))

    assert listener.receive(city)["event"]["data"] == {"plan": "peak"}
    listener.assert_silent(own)


def test_event_is_dropped_when_the_transaction_rolls_back(
    db: None, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city = listener.join(realtime.CITY_GROUP)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        publish(alert_event(level=2))
        raise RuntimeError("roll back")

    assert callbacks == []
    listener.assert_silent(city)


def test_non_json_data_raises_inside_publish_before_commit(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(TypeError, match="not JSON serializable"),
    ):
        publish(alert_event(thing=object()))

    assert callbacks == []


class BrokenLayer:
    """A channel layer whose backend (Redis) is down."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.attempts.append(group)
        raise ConnectionError("Redis is down")


def test_channel_layer_failure_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    settings.IOC_LIVE_BATCH_SECONDS = 0  # sent at once (the batched path: the next test)
    broken = BrokenLayer()
    monkeypatch.setattr(delivery, "get_channel_layer", lambda: broken)
    message = alert_event(level=1).as_message()

    with caplog.at_level(logging.WARNING, logger="ioc.realtime"):
        result = send_to_groups(["city", ward_group(OWN)], message)

    assert result is None
    assert broken.attempts == ["city"]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert (
        record.getMessage() == f"realtime: could not deliver alert.raised to ['city', 'ward.{OWN}']"
    )


def test_a_batch_the_layer_refuses_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenLayer()
    monkeypatch.setattr(batcher_module, "get_channel_layer", lambda: broken)
    batcher = Batcher(start=False)
    batcher.add(["city"], alert_event(level=1).as_message())

    with caplog.at_level(logging.WARNING, logger="ioc.realtime"):
        batcher.flush(asyncio.new_event_loop(), batcher.pending)

    assert broken.attempts == ["city"]
    [record] = caplog.records
    assert record.getMessage() == "realtime: could not deliver a batch to ['city']"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ConnectionError)


def test_heartbeat_reaches_city_and_every_ward_group(db: None, listener: GroupListener) -> None:
    city = listener.join(realtime.CITY_GROUP)
    own = listener.join(ward_group(OWN))

    reached = realtime.heartbeat([OWN, OTHER])

    assert reached == 6  # city, requests, each ward's group and requests group
    for channel in (city, own):
        event = listener.receive(channel)["event"]
        assert (event["type"], event["ward"], event["data"]) == ("heartbeat", "", {})


def test_json_safe_gives_what_a_round_trip_through_djangos_encoder_gives() -> None:
    import json
    import uuid
    from datetime import date, time, timedelta
    from zoneinfo import ZoneInfo

    from django.core.serializers.json import DjangoJSONEncoder
    from django.utils.translation import gettext_lazy

    data = {
        "utc": datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=UTC),
        "whole": datetime(2026, 3, 1, 8, 30, tzinfo=UTC),
        "hanoi": datetime(2026, 3, 1, 15, 30, 0, 500, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")),
        "naive": datetime(2026, 3, 1, 8, 30, 1),
        "day": date(2026, 3, 1),
        "clock": time(8, 30, 0, 250000),
        "span": timedelta(hours=26, seconds=5),
        "amount": Decimal("21.584100"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "label": gettext_lazy("Live"),
        "nested": [{"n": 1, "x": 1.5, "ok": True, "none": None}, ("a", "Phường Đồng Quang")],
        7: "an integer key",
    }
    assert realtime.json_safe(data) == json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    with pytest.raises(TypeError):
        realtime.json_safe({"not json": {1, 2}})


def test_plain_json_script_matches_djangos_element_and_cannot_close_it() -> None:
    import json

    from django.template import Context, Template

    value = {"name": "</script><b>Đồng Quang & co</b>", "n": [1, 2.5, None]}
    rendered = Template('{% load ioc_json %}{{ value|plain_json_script:"x-data" }}').render(
        Context({"value": value})
    )
    django = Template('{{ value|json_script:"x-data" }}').render(Context({"value": value}))
    head = '<script id="x-data" type="application/json">'
    assert rendered.startswith(head) and rendered.endswith("</script>")
    assert rendered.count("</script>") == 1 and "<b>" not in rendered
    body = rendered[len(head) : -len("</script>")]
    assert json.loads(body) == json.loads(django[len(head) : -len("</script>")]) == value
