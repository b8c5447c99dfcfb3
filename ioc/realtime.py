"""The one way to push a live event to the browsers (DESIGN.md, "Data flow").

Services call :func:`publish`; the event leaves the process only after the surrounding
transaction commits, and goes to the group ``city`` and to the group of its ward.
Consumers join only the groups their user may see (``ioc.selectors.realtime_groups_for``).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

CITY_GROUP = "city"
# The message type consumers handle: ``ops_event`` (channels maps "." to "_").
CONSUMER_MESSAGE_TYPE = "ops.event"


class EventType(StrEnum):
    """Every live event type, named once here (DESIGN.md websocket contract)."""

    DEVICE_STATUS = "device.status"
    DEVICE_READING = "device.reading"
    ALERT_RAISED = "alert.raised"
    ALERT_UPDATED = "alert.updated"
    INCIDENT_UPDATED = "incident.updated"
    REQUEST_CREATED = "request.created"
    REQUEST_UPDATED = "request.updated"
    SIGNAL_COMMAND = "signal.command"
    # Several events of one group in one message, for clients that ask for it (batch=1).
    BATCH = "batch"
    # Not a change: sent periodically through every group so that a client can tell a
    # quiet city from a dead channel (a Redis restart silently drops group memberships).
    HEARTBEAT = "heartbeat"


@dataclass(frozen=True)
class Event:
    """A live event: its type, the ward it concerns, and JSON-safe data."""

    type: EventType
    ward: str
    data: dict[str, Any]
    at: datetime = field(default_factory=timezone.now)

    def as_message(self) -> dict[str, Any]:
        """The JSON object the browser receives."""
        return {
            "type": str(self.type),
            "ward": self.ward,
            "at": self.at.isoformat(),
            "data": json_safe(self.data),
        }


_DJANGO_JSON = DjangoJSONEncoder()
# orjson hands datetimes, dates and times to ``default`` too, so they come out as Django
# writes them (milliseconds, "Z"); keys that are not text become text, as json.dumps does.
_JSON_SAFE_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def json_safe(data: Any) -> Any:
    """``data`` as plain JSON types (datetimes and decimals become text, as Django encodes):
    the same result as a round trip through ``DjangoJSONEncoder``, about ten times faster
    (a snapshot holds thousands of values)."""
    return orjson.loads(orjson.dumps(data, default=_DJANGO_JSON.default, option=_JSON_SAFE_OPTIONS))


def ward_group(ward_code: str) -> str:
    """The channel-layer group of one ward."""
    return f"ward.{ward_code}"


def publish(event: Event) -> None:
    """Send ``event`` to ``city`` and to its ward's group once the transaction commits.

    ``device.reading`` events are coalesced per device within one transaction: a later
    reading merges into the pending one (its values win), so at most one leaves per device.
    """
    message = event.as_message()  # fail fast, inside the service, on non-JSON data
    groups = [CITY_GROUP, ward_group(event.ward)] if event.ward else [CITY_GROUP]
    key = _coalescing_key(message)
    if key is not None and (pending := _pending_delivery(key)) is not None:
        pending.merge(message)
        return
    transaction.on_commit(_Delivery(groups, message, key))


def _coalescing_key(message: dict[str, Any]) -> tuple[str, str] | None:
    """What identifies events that may be merged before commit (one device's readings)."""
    if message["type"] == EventType.DEVICE_READING and message["data"].get("device"):
        return (message["type"], str(message["data"]["device"]))
    return None


class _Delivery:
    """A message waiting for the commit; readings of the same device merge into it."""

    def __init__(
        self, groups: list[str], message: dict[str, Any], key: tuple[str, str] | None
    ) -> None:
        self.groups = groups
        self.message = message
        self.key = key

    def merge(self, later: dict[str, Any]) -> None:
        """Take a later reading of the same device: its fields win, values are merged."""
        self.message = _merged_reading(self.message, later)

    def __call__(self) -> None:
        send_to_groups(self.groups, self.message)


def _pending_delivery(key: tuple[str, str]) -> _Delivery | None:
    """The delivery of ``key`` already waiting for this transaction's commit, if any.

    Only one registered at the current savepoint depth qualifies: merging into an outer
    one would keep values that a rollback of the inner savepoint should have dropped.
    Callbacks of rolled-back savepoints are already gone from ``run_on_commit``.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None  # autocommit: on_commit sends at once, nothing to merge into
    current = set(connection.savepoint_ids)
    for savepoint_ids, callback, _robust in reversed(connection.run_on_commit):
        if isinstance(callback, _Delivery) and callback.key == key:
            return callback if set(savepoint_ids) == current else None
    return None


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


def send_to_groups(groups: list[str], message: dict[str, Any]) -> None:
    """Deliver a message to groups, each copy numbered with that group's next ``seq``.

    With ``IOC_LIVE_BATCH_SECONDS`` > 0 the message waits (at most that long) in this
    process's batcher and leaves with the others of its group in one channel-layer message;
    the browser still receives one message per event, each with its own ``seq``.
    A channel-layer (or cache) outage is logged, never raised: the write that caused the
    event has already committed, and clients resynchronise.
    """
    if float(getattr(settings, "IOC_LIVE_BATCH_SECONDS", 0) or 0) > 0:
        _batcher().add(groups, message)
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups:
            _group_send(layer, group, {**message, "group": group, "seq": next_seq(group)})
    except Exception:  # the channel layer (Redis) is down or refused the message
        logger.warning(
            "realtime: could not deliver %s to %s", message["type"], groups, exc_info=True
        )


def _group_send(layer: Any, group: str, event: dict[str, Any]) -> None:
    """One browser message through one group, wrapped for the consumers' handler."""
    async_to_sync(layer.group_send)(
        group, {"type": CONSUMER_MESSAGE_TYPE, "group": group, "event": event}
    )


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


# How long a batch waits after its first message when the channel was quiet: enough for the
# on-commit callbacks of one transaction to join it.
BATCH_GRACE_SECONDS = 0.01


class _Batcher:
    """Gathers this process's outgoing messages per group and sends each group's lot in
    one channel-layer message every ``IOC_LIVE_BATCH_SECONDS`` (a daemon thread with its own
    event loop, so channel-layer connections are reused).

    Readings of one device in the same window merge, as within a transaction (values of
    the later win), so a batch is bounded by the number of devices, not of events.
    """

    def __init__(self, *, start: bool = True) -> None:
        self.pid = os.getpid()
        self.lock = threading.Condition()
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.readings: dict[str, dict[str, int]] = {}
        self.oldest = 0.0
        self.last_flush = 0.0
        self.local_lock = threading.Lock()
        self.redis: Any = None
        self.thread = threading.Thread(target=self._run, name="realtime-batcher", daemon=True)
        if start:
            self.thread.start()

    def add(self, groups: list[str], message: dict[str, Any]) -> None:
        """Queue ``message`` for ``groups``; the batcher sends it within the window."""
        key = _coalescing_key(message)
        with self.lock:
            if not self.pending:
                self.oldest = time.monotonic()
            for group in groups:
                events = self.pending.setdefault(group, [])
                merged = self.readings.setdefault(group, {})
                if key is not None and key[1] in merged:
                    index = merged[key[1]]
                    events[index] = _merged_reading(events[index], message)
                    continue
                if key is not None:
                    merged[key[1]] = len(events)
                events.append(message)
            self.lock.notify()

    def _take(self) -> dict[str, list[dict[str, Any]]]:
        """Wait for messages, then take them all: a throttle, not a delay. After a quiet
        spell they leave at once (with a short grace so that one commit's burst leaves
        together); under load, at most one batch per group and ``window``."""
        window = float(settings.IOC_LIVE_BATCH_SECONDS) or 0.1
        with self.lock:
            while not self.pending:
                self.lock.wait()
            deadline = max(self.last_flush + window, self.oldest + BATCH_GRACE_SECONDS)
            # wait() returns early at every add(): keep waiting until the deadline.
            while (remaining := deadline - time.monotonic()) > 0:
                self.lock.wait(remaining)
            taken, self.pending, self.readings = self.pending, {}, {}
            self.last_flush = time.monotonic()
            return taken

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            self.flush(loop, self._take())

    def flush(
        self, loop: asyncio.AbstractEventLoop, taken: dict[str, list[dict[str, Any]]]
    ) -> None:
        """Send each group's gathered events through one group_send, each event numbered
        and encoded once for every client (the consumer sends them one by one)."""
        layer = get_channel_layer()
        if layer is None or not taken:
            return
        try:
            for group, events in taken.items():
                # Numbered and published under one lock: two processes that numbered 7 and
                # 8 must not publish 8 first (clients would drop 7 as old and resync).
                with self._sequencing(group):
                    texts = numbered_texts(group, next_seq(group, len(events)), events)
                    message = {"type": CONSUMER_MESSAGE_TYPE, "group": group, "texts": texts}
                    if len(texts) > 1:
                        message["batch"] = batch_text(group, texts)
                    loop.run_until_complete(layer.group_send(group, message))
        except Exception:  # as in send_to_groups: logged; clients resynchronise
            logger.warning("realtime: could not deliver a batch to %s", list(taken), exc_info=True)

    def _sequencing(self, group: str) -> Any:
        """A lock on numbering-and-publishing ``group``'s messages, shared by every process
        through Redis (in-process only without Redis: one process publishes then)."""
        if not settings.REDIS_URL:
            return self.local_lock
        if self.redis is None:
            import redis

            self.redis = redis.Redis.from_url(settings.REDIS_URL)
        return self.redis.lock(
            f"ioc:realtime:publish:{group}", timeout=5, sleep=0.002, blocking_timeout=2
        )

    def flush_now(self) -> None:
        """Send whatever is queued (at process exit)."""
        with self.lock:
            taken, self.pending, self.readings = self.pending, {}, {}
        if taken:
            self.flush(asyncio.new_event_loop(), taken)


def _merged_reading(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Two readings of one device as one: the later's fields win, values are merged."""
    values = {**earlier["data"].get("values", {}), **later["data"].get("values", {})}
    merged = {**later, "data": {**earlier["data"], **later["data"]}}
    if values:
        merged["data"]["values"] = values
    return merged


_batcher_instance: _Batcher | None = None
_batcher_lock = threading.Lock()


def _batcher() -> _Batcher:
    """This process's batcher, started on first use (and again in a forked child)."""
    global _batcher_instance
    with _batcher_lock:
        if _batcher_instance is None or _batcher_instance.pid != os.getpid():
            _batcher_instance = _Batcher()
            atexit.register(_batcher_instance.flush_now)
        return _batcher_instance


def heartbeat(ward_codes: list[str]) -> int:
    """Send a heartbeat through ``city`` and every ward group; returns the groups reached.

    Each carries its group's current ``seq`` (not advanced): a client that last saw a lower
    number for that group has missed a message and resynchronises.
    """
    layer = get_channel_layer()
    groups = [CITY_GROUP, *(ward_group(code) for code in ward_codes)]
    if layer is None:
        return len(groups)
    at = timezone.now().isoformat()
    try:
        for group, seq in current_seqs(groups).items():
            message = {
                "type": str(EventType.HEARTBEAT),
                "group": group,
                "seq": seq,
                "at": at,
                "ward": "",
                "data": {},
            }
            _group_send(layer, group, message)
    except Exception:  # as in send_to_groups: logged, the next beat tries again
        logger.warning("realtime: could not deliver heartbeat to %s", groups, exc_info=True)
    return len(groups)


def heartbeat_seconds() -> float:
    """How often beat sends the heartbeat (the schedule in settings is the one source)."""
    schedule = settings.CELERY_BEAT_SCHEDULE["realtime-heartbeat"]["schedule"]
    return cast(timedelta, schedule).total_seconds()
