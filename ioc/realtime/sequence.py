"""Sequence numbers: every message through a group carries that group's next ``seq``, so a
client that sees a gap knows it missed something and resynchronises. The counters live in
the cache (Redis in production), shared by every process."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.core.cache import cache

from ioc.realtime.events import EventType

logger = logging.getLogger(__name__)


def seq_key(group: str) -> str:
    """The cache key of a group's sequence counter."""
    return f"realtime:seq:{group}"


def next_seq(group: str, count: int = 1) -> int:
    """Advance the sequence number of ``group`` by ``count`` and return the last number
    taken (one cache incr, shared by all processes through the cache: Redis in
    production); ``count`` messages take the numbers up to it."""
    key = seq_key(group)
    try:
        return int(cache.incr(key, count))
    except ValueError:  # the first message of this group (or the cache lost the key)
        cache.add(key, 0, timeout=None)
        return int(cache.incr(key, count))


def current_seqs(groups: list[str]) -> dict[str, int]:
    """The last sequence number sent through each group (0 before the first message).

    With the cache (Redis) down the pages must still render their last known state: the
    numbers are then 0, and a client that later sees a higher one resynchronises.
    """
    try:
        found = cache.get_many([seq_key(group) for group in groups])
    except Exception:  # Redis is down or unreachable
        logger.warning("realtime: sequence numbers unavailable", exc_info=True)
        found = {}
    return {group: int(found.get(seq_key(group)) or 0) for group in groups}


def numbered_texts(group: str, last_seq: int, events: list[dict[str, Any]]) -> list[str]:
    """A group's gathered events as clients receive them: each its own message with its
    own ``seq`` (the numbers up to ``last_seq``), encoded once for every client."""
    first = last_seq - len(events) + 1
    return [
        orjson.dumps({**event, "group": group, "seq": first + n}).decode()
        for n, event in enumerate(events)
    ]


def batch_text(group: str, texts: list[str]) -> str:
    """The same events as one ``batch`` message, for clients that asked for batched
    framing (``/ws/ops/?batch=1``): one websocket frame instead of one per event, which is
    what lets one server process feed hundreds of screens. Joined, not re-encoded."""
    head = orjson.dumps({"type": str(EventType.BATCH), "group": group}).decode()[:-1]
    return head + ',"events":[' + ",".join(texts) + "]}"
