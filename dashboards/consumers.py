"""The live channel of the staff screens (DESIGN.md websocket contract).

The consumer authorises in ``connect()``, joins only the groups its user may see, sends a
snapshot first and then relays events: it never filters a wider stream late.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from cameras.selectors import device_map_features
from ioc import selectors


def _snapshot_for(user: Any) -> dict[str, Any]:
    """The state a freshly connected client starts from, scoped to ``user``."""
    wards = list(selectors.wards_visible_to(user).values_list("code", flat=True))
    devices = {
        row["code"]: {
            "status": row["status"],
            "kind": row["kind"],
            "ward": row["ward__code"],
            "last_seen_at": row["last_seen_at"].isoformat() if row["last_seen_at"] else None,
        }
        for row in device_map_features(user)
    }
    return {
        "type": "snapshot",
        "at": timezone.now().isoformat(),
        "wards": wards,
        "devices": devices,
    }


class OpsConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/ops/``: session-authenticated, scoped, snapshot first, then events."""

    groups_joined: list[str]

    async def connect(self) -> None:
        """Refuse anyone without a staff role; join the user's groups; send the snapshot."""
        user = self.scope.get("user")
        self.groups_joined = []
        if user is None or not user.is_authenticated or not getattr(user, "is_staff_role", False):
            await self.close(code=4401)
            return
        groups = await database_sync_to_async(selectors.realtime_groups_for)(user)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups
        await self.accept()
        snapshot = await database_sync_to_async(_snapshot_for)(user)
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        """Leave the groups joined in connect()."""
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen; a ping gets a pong so they can measure the round trip."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "at": timezone.now().isoformat()})

    async def ops_event(self, message: dict[str, Any]) -> None:
        """Relay one event from a group this consumer joined."""
        await self.send_json(message["event"])
