"""Sequence numbers: every message through a group carries that group's next ``seq``, so a
client that sees a gap knows it missed something and resynchronises. The counters live in
the cache (Redis in production), shared by every process.

Each counter has an ``epoch`` beside it: a random id taken anew whenever the counter is
created, sent with every number. A Redis that comes back empty restarts the counters at 1;
without the epoch a client would drop those numbers as old (they are not above the last it
saw) until the next heartbeat. A client that sees another epoch resynchronises instead."""

from __future__ import annotations

import logging
import secrets
from typing import Any, NamedTuple

import orjson
from django.core.cache import cache

from ioc.realtime.events import EventType

logger = logging.getLogger(__name__)


def seq_key(group: str) -> str:
    """The cache key of a group's sequence counter."""
    return f"realtime:seq:{group}"


def epoch_key(group: str) -> str:
    """The cache key of the epoch of a group's counter."""
    return f"realtime:epoch:{group}"


class Numbers(NamedTuple):
    """The numbers a group's messages took: up to ``last``, in the counter's ``epoch``."""

    last: int
    epoch: str


def next_seq(group: str, count: int = 1) -> Numbers:
    """Advance the sequence number of ``group`` by ``count``: the last number taken and the
    counter's epoch (shared by all processes through the cache: Redis in production);
    ``count`` messages take the numbers up to ``last``.

    Whoever creates the counter (the first message, or the first after the cache lost it)
    takes a new epoch. Two processes racing there may send a few numbers under an epoch
    that is at once replaced: their clients merely resynchronise once more.
    """
    key = seq_key(group)
    try:
        last = int(cache.incr(key, count))
    except ValueError:  # the first message of this group (or the cache lost the key)
        if cache.add(key, 0, timeout=None):
            cache.set(epoch_key(group), new_epoch(), timeout=None)
        last = int(cache.incr(key, count))
    epoch = cache.get(epoch_key(group))
    if epoch is None:  # the epoch alone was lost: a new one, so clients resynchronise
        cache.add(epoch_key(group), new_epoch(), timeout=None)
        epoch = cache.get(epoch_key(group))
    return Numbers(last, str(epoch or ""))


def new_epoch() -> str:
    """A fresh epoch: random, short, never taken before in practice."""
    return secrets.token_hex(6)


def current_numbers(groups: list[str]) -> dict[str, Numbers]:
    """The last sequence number sent through each group and its epoch (0 and "" before the
    first message), in one cache read.

    With the cache (Redis) down the pages must still render their last known state: the
    numbers are then 0 and the epochs "", and a client that later sees a higher number or
    an epoch resynchronises.
    """
    keys = [key for group in groups for key in (seq_key(group), epoch_key(group))]
    try:
        found = cache.get_many(keys)
    except Exception:  # Redis is down or unreachable
        logger.warning("realtime: sequence numbers unavailable", exc_info=True)
        found = {}
    return {
        group: Numbers(int(found.get(seq_key(group)) or 0), str(found.get(epoch_key(group)) or ""))
        for group in groups
    }


def current_seqs(groups: list[str]) -> dict[str, int]:
    """The last sequence number sent through each group (0 before the first message)."""
    return {group: numbers.last for group, numbers in current_numbers(groups).items()}


def numbered_texts(
    group: str, last_seq: int, events: list[dict[str, Any]], epoch: str = ""
) -> list[str]:
    """A group's gathered events as clients receive them: each its own message with its
    own ``seq`` (the numbers up to ``last_seq``, in ``epoch``), encoded once for every
    client."""
    first = last_seq - len(events) + 1
    return [
        orjson.dumps({**event, "group": group, "seq": first + n, "epoch": epoch}).decode()
        for n, event in enumerate(events)
    ]


def batch_text(group: str, texts: list[str]) -> str:
    """The same events as one ``batch`` message, for clients that asked for batched
    framing (``/ws/ops/?batch=1``): one websocket frame instead of one per event, which is
    what lets one server process feed hundreds of screens. Joined, not re-encoded."""
    head = orjson.dumps({"type": str(EventType.BATCH), "group": group}).decode()[:-1]
    return head + ',"events":[' + ",".join(texts) + "]}"
