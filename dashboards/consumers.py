"""The live channel of the staff screens (DESIGN.md websocket contract).

The consumer authorises in ``connect()``, joins only the groups its user may see, sends a
snapshot first and then relays events: it never filters a wider stream late. Group messages
reach it through the process's fan-out (``dashboards.fanout``): one subscription per group
and process, not one per screen. Every relayed
message carries its ``group`` and that group's ``seq``; a client that sees a gap (or a
heartbeat ahead of what it has seen) sends ``{"type": "resync"}`` and gets a new snapshot.
A reorganisation of units (``units.reorganised``, sent through ``city`` and every unit
group it concerns) makes each screen that hears it take its user's new scope: new groups,
then a new snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from dashboards.fanout import Fanout, Frames, fanout_for
from dashboards.selectors import snapshot_for
from ioc import selectors
from ioc.models import Ward
from ioc.two_factor import session_step

logger = logging.getLogger(__name__)

# Texts a screen may fall behind by before its backlog is dropped (it then resyncs).
OUTBOX_LIMIT = 2000


class OpsConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/ops/``: session-authenticated, scoped, snapshot first, then events.

    ``/ws/ops/?ward=<code>`` serves one ward's screen: that ward's group and snapshot only
    (refused when the user may not see the ward). ``?batch=1`` asks for batched framing:
    events gathered together may come as one ``{"type": "batch", "events": [...]}``
    message (each event keeps its own ``group`` and ``seq``); without it every event is
    its own message, as DESIGN.md states.
    """

    groups_joined: list[str]
    user: Any = None
    ward: Ward | None = None
    batched = False
    fanout: Fanout | None = None
    sender: asyncio.Task[None] | None = None
    rescoping: asyncio.Task[None] | None = None
    rescope_due = False
    outbox: deque[str]
    wakeup: asyncio.Event

    async def connect(self) -> None:
        """Refuse anyone without a staff role; join the user's groups; send the snapshot."""
        user = self.scope.get("user")
        self.groups_joined = []
        if user is None or not user.is_authenticated or not getattr(user, "is_staff_role", False):
            await self.close(code=4401)
            return
        if await database_sync_to_async(session_step)(user, self.scope.get("session")):
            # The password was given but not the second factor it owes (ioc/two_factor.py).
            await self.close(code=4401)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        ward_code = (query.get("ward") or [""])[0][:16]
        self.batched = (query.get("batch") or [""])[0] == "1"
        if ward_code:
            try:
                self.ward = await database_sync_to_async(selectors.ward_get_for_user)(
                    user, ward_code
                )
            except Ward.DoesNotExist:
                await self.close(code=4404)
                return
        groups = await database_sync_to_async(selectors.realtime_groups_for)(
            user, ward_code=self.ward.code if self.ward else None
        )
        self.outbox = deque()
        self.wakeup = asyncio.Event()
        self.fanout = fanout_for(self.channel_layer)
        await self.fanout.join(groups, self)
        self.groups_joined = groups
        self.user = user
        try:
            await self.accept()
            await self.send_snapshot()
        except BaseException:  # no disconnect() follows a failed connect(): leave now
            self.fanout.leave(groups, self)
            raise
        # Events that arrived while the snapshot was read wait in the outbox until now.
        self.sender = asyncio.get_running_loop().create_task(self._send_outbox())

    async def send_snapshot(self) -> None:
        """Send the user's current state (read after joining, so no event falls between)."""
        snapshot = await database_sync_to_async(snapshot_for)(self.user, ward=self.ward)
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        """Leave the groups joined in connect() and stop sending."""
        if self.fanout is not None:
            self.fanout.leave(self.groups_joined, self)
        if self.sender is not None:
            self.sender.cancel()
        if self.rescoping is not None:
            self.rescoping.cancel()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """A ping gets a pong (to measure the round trip), a resync a fresh snapshot;
        anything else is ignored: clients change nothing through this channel."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong", "at": timezone.now().isoformat()})
        elif kind == "resync":
            await self.send_snapshot()

    def deliver(self, frames: Frames) -> None:
        """Queue a group message's texts for this socket (called by the fan-out, never
        waits). A screen that cannot keep up loses its backlog rather than the process's
        memory: its next message then shows a ``seq`` gap and it resynchronises. A message
        saying the units were reorganised also starts taking the new scope."""
        if len(self.outbox) >= OUTBOX_LIMIT:
            logger.info("live: a screen fell %d messages behind; it will resync", OUTBOX_LIMIT)
            self.outbox.clear()
        self.outbox.extend(frames.batched if self.batched else frames.single)
        self.wakeup.set()
        if frames.rescope:
            self.rescope_due = True
            if self.rescoping is None or self.rescoping.done():
                self.rescoping = asyncio.get_running_loop().create_task(self._rescope())

    async def _rescope(self) -> None:
        """Take the scope the reorganisation gave this user: join the new groups, leave
        the old, queue a new snapshot after what is already queued. A ward's screen follows
        its unit into the one unit it went into; it closes when there is none (a split: the
        page, which reloads, shows where to go). Runs again while more such messages came
        (one reorganisation reaches a screen through each of its groups)."""
        try:
            while self.rescope_due and self.fanout is not None:
                self.rescope_due = False
                if self.ward is not None:
                    self.ward = await database_sync_to_async(selectors.ward_followed_for_user)(
                        self.user, self.ward
                    )
                    if self.ward is None:
                        await self.close(code=4404)
                        return
                groups = await database_sync_to_async(selectors.realtime_groups_for)(
                    self.user, ward_code=self.ward.code if self.ward else None
                )
                await self.fanout.join(groups, self)
                self.fanout.leave([g for g in self.groups_joined if g not in groups], self)
                self.groups_joined = groups
                snapshot = await database_sync_to_async(snapshot_for)(self.user, ward=self.ward)
                self.outbox.append(await self.encode_json(snapshot))
                self.wakeup.set()
        except Exception:  # the socket stays on its old groups; the page reloads anyway
            logger.warning("live: could not take a screen's new scope", exc_info=True)

    async def _send_outbox(self) -> None:
        """Write queued texts to the socket in order, after the snapshot."""
        try:
            while True:
                await self.wakeup.wait()
                self.wakeup.clear()
                while self.outbox:
                    await self.base_send({"type": "websocket.send", "text": self.outbox.popleft()})
        except Exception:  # the client went away mid-send; disconnect() cleans up (a cancel,
            # a BaseException, passes through)
            logger.debug("live: sending to a closed socket stopped", exc_info=True)
