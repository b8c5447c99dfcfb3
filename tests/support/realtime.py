"""Listen on the in-memory channel layer the way a websocket consumer would, from sync tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import override_settings

QUIET_SECONDS = 0.2


async def _receive(layer: Any, channel: str, timeout: float) -> dict[str, Any]:
    return await asyncio.wait_for(layer.receive(channel), timeout)


class GroupListener:
    """Channels joined to groups of the process's channel layer, and what reaches them."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer

    def join(self, group: str) -> str:
        """A new channel added to ``group``, as a consumer's connect() would do."""
        channel: str = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, channel)
        return channel

    def receive(self, channel: str, timeout: float = 1.0) -> dict[str, Any]:
        """The next message on ``channel``; TimeoutError when none arrives in time."""
        return async_to_sync(_receive)(self.layer, channel, timeout)

    def assert_silent(self, channel: str) -> None:
        """Nothing arrives on ``channel`` within a short wait."""
        with pytest.raises(TimeoutError):
            self.receive(channel, QUIET_SECONDS)


IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@contextmanager
def group_listener() -> Iterator[GroupListener]:
    """A listener on a flushed in-memory layer; the layer is process-wide, so flush it again.

    These tests are about what ioc.realtime sends and when, so they use the in-memory layer
    in both passes of the suite (Redis' layers are per event loop, and each async_to_sync
    call runs its own loop); delivery through channels-redis to a real websocket is proven
    in tests/ioc/test_integration.py.
    """
    with override_settings(CHANNEL_LAYERS=IN_MEMORY, IOC_LIVE_BATCH_SECONDS=0):
        layer = get_channel_layer()
        assert layer is not None
        async_to_sync(layer.flush)()
        try:
            yield GroupListener(layer)
        finally:
            async_to_sync(layer.flush)()
