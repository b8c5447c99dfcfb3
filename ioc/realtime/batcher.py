"""The batcher: each process gathers its outgoing live messages per group and sends each
group's lot in one channel-layer message per window (``IOC_LIVE_BATCH_MS``)."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from ioc.realtime.coalescing import coalescing_key, merged_reading
from ioc.realtime.events import CONSUMER_MESSAGE_TYPE
from ioc.realtime.sequence import batch_text, next_seq, numbered_texts

logger = logging.getLogger(__name__)

# How long a batch waits after its first message when the channel was quiet: enough for the
# on-commit callbacks of one transaction to join it.
BATCH_GRACE_SECONDS = 0.01


class Batcher:
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
        key = coalescing_key(message)
        with self.lock:
            if not self.pending:
                self.oldest = time.monotonic()
            for group in groups:
                events = self.pending.setdefault(group, [])
                merged = self.readings.setdefault(group, {})
                if key is not None and key[1] in merged:
                    index = merged[key[1]]
                    events[index] = merged_reading(events[index], message)
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
                    last, epoch = next_seq(group, len(events))
                    texts = numbered_texts(group, last, events, epoch)
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


_batcher_instance: Batcher | None = None
_batcher_lock = threading.Lock()


def batcher() -> Batcher:
    """This process's batcher, started on first use (and again in a forked child)."""
    global _batcher_instance
    with _batcher_lock:
        if _batcher_instance is None or _batcher_instance.pid != os.getpid():
            _batcher_instance = Batcher()
            atexit.register(_batcher_instance.flush_now)
        return _batcher_instance
