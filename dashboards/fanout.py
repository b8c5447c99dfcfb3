"""One subscription per group and process for the live channel's screens.

Channels gives every consumer a channel of its own, so one city-wide message sent to the
``city`` group is unpacked, queued, woken up for and dispatched once per connected screen:
with 500 screens that per-consumer work, not the sockets, bounded one server process
(bench/live_latency.py). Here each process joins every group once, on a channel of its own,
unpacks each message once and hands the ready texts to the consumers that joined the group.
Each consumer writes them from its own outbox, so one slow screen never holds up the others.

Scoping is unchanged: a consumer receives only the groups it was joined to, and it is joined
only to the groups ``ioc.selectors.realtime_groups_for`` gives its user.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

import orjson

from ioc.realtime import EventType

logger = logging.getLogger(__name__)


# How an event text begins when it tells screens that the units changed (``json_safe``
# and orjson keep the envelope's order: its type comes first).
_RESCOPE_PREFIX = f'{{"type":"{EventType.UNITS_REORGANISED}"'


class Frames:
    """One group message as websocket texts, worked out once for every screen: one text per
    event, and the same events as one ``batch`` text for clients that asked for it.
    ``rescope``: one of them says the units were reorganised, so every screen that gets it
    must take its new scope (``OpsConsumer.rescope``)."""

    __slots__ = ("batched", "rescope", "single")

    def __init__(self, message: dict[str, Any]) -> None:
        if "texts" in message:
            self.single: list[str] = list(message["texts"])
            self.batched: list[str] = [message["batch"]] if "batch" in message else self.single
        else:
            self.single = self.batched = [orjson.dumps(message["event"]).decode()]
        self.rescope = any(text.startswith(_RESCOPE_PREFIX) for text in self.single)


class Member(Protocol):
    """What the fan-out needs of a consumer."""

    def deliver(self, frames: Frames) -> None:
        """Queue ``frames`` for the socket without waiting for it."""


def message_group(message: dict[str, Any]) -> str | None:
    """The group a channel-layer message was sent through (``ioc.realtime`` names it)."""
    group = message.get("group")
    if group is None and isinstance(message.get("event"), dict):
        group = message["event"].get("group")
    return group if isinstance(group, str) else None


class Fanout:
    """The groups this process's consumers joined, subscribed once each, and who joined."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        # Weak: a consumer whose task died without disconnect() must not be kept (nor fed).
        self.members: dict[str, weakref.WeakSet[Member]] = {}
        self.subscribed: set[str] = set()
        self.channel: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def join(self, groups: list[str], member: Member) -> None:
        """Add ``member`` to ``groups``; returns once the groups are subscribed, so that a
        snapshot read afterwards misses no event."""
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel("fanout.")
                self.task = asyncio.get_running_loop().create_task(self._relay(self.channel))
            for group in groups:
                if group not in self.subscribed:
                    await self.layer.group_add(group, self.channel)
                    self.subscribed.add(group)
                self.members.setdefault(group, weakref.WeakSet()).add(member)

    def leave(self, groups: list[str], member: Member) -> None:
        """Remove ``member``. The process stays subscribed: the groups are few (the city and
        its wards) and screens come and go."""
        for group in groups:
            if group in self.members:
                self.members[group].discard(member)

    async def _relay(self, channel: str) -> None:
        """Hand every message to the members of its group, for as long as the process runs."""
        while True:
            try:
                message = await self.layer.receive(channel)
            except Exception:  # a channel-layer hiccup: clients resync on the seq gap (a
                # cancel is a BaseException: it ends the relay)
                logger.warning("live fan-out: receive failed", exc_info=True)
                await asyncio.sleep(1)
                continue
            try:
                group = message_group(message)
                members = self.members.get(group or "")
                if not members:
                    continue
                frames = Frames(message)
                for member in list(members):
                    member.deliver(frames)
            except Exception:  # a malformed message must not stop the relay
                logger.warning("live fan-out: could not relay a message", exc_info=True)


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = weakref.WeakKeyDictionary()


def fanout_for(layer: Any) -> Fanout:
    """The fan-out of the running event loop and ``layer`` (created on first use)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None or fanout.layer is not layer:
        if fanout is not None and fanout.task is not None:
            fanout.task.cancel()
        fanout = _fanouts[loop] = Fanout(layer)
    return fanout
