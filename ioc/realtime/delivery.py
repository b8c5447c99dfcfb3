"""Publishing: an event leaves the process only after its transaction commits, then goes
to its groups, each copy numbered (at once, or through this process's batcher)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from ioc.realtime.batcher import batcher
from ioc.realtime.coalescing import coalescing_key, merged_reading
from ioc.realtime.events import CONSUMER_MESSAGE_TYPE, Event, event_groups
from ioc.realtime.sequence import next_seq

logger = logging.getLogger(__name__)


def publish(event: Event) -> None:
    """Send ``event`` to ``city`` and to its ward's group once the transaction commits.

    ``device.reading`` events are coalesced per device within one transaction: a later
    reading merges into the pending one (its values win), so at most one leaves per device.
    """
    message = event.as_message()  # fail fast, inside the service, on non-JSON data
    key = coalescing_key(message)
    if key is not None and (pending := _pending_delivery(key)) is not None:
        pending.merge(message)
        return
    transaction.on_commit(_Delivery(event_groups(event), message, key))


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
        self.message = merged_reading(self.message, later)

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


def send_to_groups(groups: list[str], message: dict[str, Any]) -> None:
    """Deliver a message to groups, each copy numbered with that group's next ``seq`` (and
    the ``epoch`` of its counter).

    With ``IOC_LIVE_BATCH_SECONDS`` > 0 the message waits (at most that long) in this
    process's batcher and leaves with the others of its group in one channel-layer message;
    the browser still receives one message per event, each with its own ``seq``.
    A channel-layer (or cache) outage is logged, never raised: the write that caused the
    event has already committed, and clients resynchronise.
    """
    if float(getattr(settings, "IOC_LIVE_BATCH_SECONDS", 0) or 0) > 0:
        batcher().add(groups, message)
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups:
            seq, epoch = next_seq(group)
            group_send(layer, group, {**message, "group": group, "seq": seq, "epoch": epoch})
    except Exception:  # the channel layer (Redis) is down or refused the message
        logger.warning(
            "realtime: could not deliver %s to %s", message["type"], groups, exc_info=True
        )


def group_send(layer: Any, group: str, event: dict[str, Any]) -> None:
    """One browser message through one group, wrapped for the consumers' handler."""
    async_to_sync(layer.group_send)(
        group, {"type": CONSUMER_MESSAGE_TYPE, "group": group, "event": event}
    )
