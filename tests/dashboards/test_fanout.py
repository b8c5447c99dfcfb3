"""The live channel's fan-out: one subscription per group and process, each message handed
to exactly the screens that joined its group, a slow screen never holding up the others.

On the in-memory channel layer; the same path through channels-redis and a real uvicorn is
in tests/dashboards/test_consumers.py and bench/live_latency.py.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from channels.layers import InMemoryChannelLayer

from dashboards.consumers import OUTBOX_LIMIT, OpsConsumer
from dashboards.fanout import Fanout, Frames, fanout_for
from ioc.realtime import CONSUMER_MESSAGE_TYPE, batch_text, numbered_texts
from tests.support import OTHER_WARD, OWN_WARD

CITY, OWN, OTHER = "city", f"ward.{OWN_WARD}", f"ward.{OTHER_WARD}"


class Screen:
    """A member that records the texts it was handed, as a non-batched client would."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def deliver(self, frames: Frames) -> None:
        self.texts.extend(frames.single)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.texts]


def group_message(group: str, last_seq: int, *names: str) -> dict[str, Any]:
    """What ioc.realtime's batcher sends through a group: numbered texts and their batch."""
    events = [{"type": "device.status", "ward": "", "data": {"device": n}} for n in names]
    texts = numbered_texts(group, last_seq, events)
    return {
        "type": CONSUMER_MESSAGE_TYPE,
        "group": group,
        "texts": texts,
        "batch": batch_text(group, texts),
    }


async def settle() -> None:
    """Let the relay task hand over what was sent."""
    for _ in range(20):
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)


def test_each_group_is_joined_once_and_screens_get_only_their_groups() -> None:
    async def scenario() -> tuple[Screen, Screen, Screen, InMemoryChannelLayer]:
        layer = InMemoryChannelLayer()
        fanout = Fanout(layer)
        operator, official, second_operator = Screen(), Screen(), Screen()
        await fanout.join([CITY], operator)
        await fanout.join([OWN], official)
        await fanout.join([CITY], second_operator)
        await layer.group_send(CITY, group_message(CITY, 2, "CAM-1", "CAM-2"))
        await layer.group_send(OWN, group_message(OWN, 1, "CAM-1"))
        await layer.group_send(OTHER, group_message(OTHER, 1, "CAM-9"))
        await settle()
        assert fanout.task is not None
        fanout.task.cancel()
        return operator, official, second_operator, layer

    operator, official, second_operator, layer = asyncio.run(scenario())
    city = [(e["group"], e["seq"], e["data"]["device"]) for e in operator.events()]
    assert city == [(CITY, 1, "CAM-1"), (CITY, 2, "CAM-2")]
    assert second_operator.texts == operator.texts
    assert [(e["group"], e["data"]["device"]) for e in official.events()] == [(OWN, "CAM-1")]
    # One channel per group for the whole process, however many screens joined it.
    assert {group: len(channels) for group, channels in layer.groups.items()} == {CITY: 1, OWN: 1}


def test_batched_screens_get_one_frame_and_single_events_encode_once() -> None:
    batched = Frames(group_message(CITY, 3, "CAM-1", "CAM-2", "CAM-3"))
    assert len(batched.single) == 3
    [frame] = batched.batched
    assert [e["seq"] for e in json.loads(frame)["events"]] == [1, 2, 3]

    beat = {"type": "heartbeat", "group": CITY, "seq": 7, "at": "x", "ward": "", "data": {}}
    single = Frames({"type": CONSUMER_MESSAGE_TYPE, "event": beat})
    assert single.single == single.batched
    assert [json.loads(text) for text in single.single] == [beat]


def test_a_malformed_message_does_not_stop_the_relay_and_leaving_stops_delivery() -> None:
    async def scenario() -> tuple[Screen, Screen]:
        layer = InMemoryChannelLayer()
        fanout = Fanout(layer)
        staying, leaving = Screen(), Screen()
        await fanout.join([CITY], staying)
        await fanout.join([CITY], leaving)
        await layer.group_send(CITY, {"type": CONSUMER_MESSAGE_TYPE, "group": CITY})
        await layer.group_send(CITY, group_message(CITY, 1, "CAM-1"))
        await settle()
        fanout.leave([CITY], leaving)
        await layer.group_send(CITY, group_message(CITY, 2, "CAM-2"))
        await settle()
        assert fanout.task is not None and not fanout.task.done()
        fanout.task.cancel()
        return staying, leaving

    staying, leaving = asyncio.run(scenario())
    assert [e["data"]["device"] for e in staying.events()] == ["CAM-1", "CAM-2"]
    assert [e["data"]["device"] for e in leaving.events()] == ["CAM-1"]


def test_one_fanout_per_event_loop_and_layer() -> None:
    async def scenario() -> tuple[bool, bool]:
        layer, other_layer = InMemoryChannelLayer(), InMemoryChannelLayer()
        first = fanout_for(layer)
        same = fanout_for(layer) is first
        replaced = fanout_for(other_layer) is not first
        return same, replaced

    assert asyncio.run(scenario()) == (True, True)


def test_a_screen_that_falls_behind_drops_its_backlog_and_then_sees_a_gap() -> None:
    async def scenario() -> list[str]:
        consumer = OpsConsumer()
        consumer.outbox = deque()
        consumer.wakeup = asyncio.Event()
        for seq in range(1, OUTBOX_LIMIT + 1):
            consumer.deliver(Frames(group_message(CITY, seq, f"CAM-{seq}")))
        assert len(consumer.outbox) == OUTBOX_LIMIT  # its socket took nothing
        consumer.deliver(Frames(group_message(CITY, OUTBOX_LIMIT + 1, "late")))
        return list(consumer.outbox)

    outbox = asyncio.run(scenario())
    # The backlog is gone and what is left is numbered after it: the client sees the gap
    # and asks for a fresh snapshot, instead of the server holding megabytes for it.
    assert [json.loads(text)["seq"] for text in outbox] == [OUTBOX_LIMIT + 1]


def test_a_screen_whose_consumer_is_gone_is_not_kept() -> None:
    import gc

    async def scenario() -> int:
        fanout = Fanout(InMemoryChannelLayer())
        gone = Screen()
        await fanout.join([CITY], gone)
        del gone  # its consumer task died without calling disconnect()
        gc.collect()
        assert fanout.task is not None
        fanout.task.cancel()
        return len(fanout.members[CITY])

    assert asyncio.run(scenario()) == 0
