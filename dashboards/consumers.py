"""The live channel of the staff screens (DESIGN.md websocket contract).

The consumer authorises in ``connect()``, joins only the groups its user may see, sends a
snapshot first and then relays events: it never filters a wider stream late. Every relayed
message carries its ``group`` and that group's ``seq``; a client that sees a gap (or a
heartbeat ahead of what it has seen) sends ``{"type": "resync"}`` and gets a new snapshot.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from dashboards.selectors import snapshot_for
from ioc import realtime, selectors
from ioc.models import Ward


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

    async def connect(self) -> None:
        """Refuse anyone without a staff role; join the user's groups; send the snapshot."""
        user = self.scope.get("user")
        self.groups_joined = []
        if user is None or not user.is_authenticated or not getattr(user, "is_staff_role", False):
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
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups
        self.user = user
        await self.accept()
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        """Send the user's current state (read after joining, so no event falls between)."""
        snapshot = await database_sync_to_async(snapshot_for)(self.user, ward=self.ward)
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        """Leave the groups joined in connect()."""
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """A ping gets a pong (to measure the round trip), a resync a fresh snapshot;
        anything else is ignored: clients change nothing through this channel."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong", "at": timezone.now().isoformat()})
        elif kind == "resync":
            await self.send_snapshot()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Relay group messages straight to ``ops_event``. Channels' own dispatch first runs
        close_old_connections through the single sync thread, for every message and every
        client: with hundreds of clients that hop, not the socket, bounds the fan-out
        (bench/live_latency.py). Relaying touches no database, so it needs none."""
        if message.get("type") == realtime.CONSUMER_MESSAGE_TYPE:
            await self.ops_event(message)
            return
        await super().dispatch(message)

    async def ops_event(self, message: dict[str, Any]) -> None:
        """Relay the events of a group this consumer joined, one websocket message each; a
        batch's events come encoded once by the publisher, so hundreds of clients cost no
        re-encoding."""
        if self.batched and "batch" in message:
            await self.send(text_data=message["batch"])
        elif "texts" in message:
            for text in message["texts"]:
                await self.send(text_data=text)
        else:
            await self.send_json(message["event"])
