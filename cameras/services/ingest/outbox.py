"""The outbox: a validated batch is stored durably with its ``IngestBatch`` row in one
transaction, and its processing is queued after commit (``cameras.tasks``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from cameras.services.ingest.copy import batch_store
from cameras.services.ingest.validation import ParsedEvent
from ioc import inprocess

logger = logging.getLogger(__name__)

# The embedded server's in-process runner of accepted batches (``ioc.embedded``).
IN_PROCESS_RUNNER = "ingest"


@dataclass
class AcceptResult:
    """What the 202 answer says, and the outbox row that was written (if any)."""

    accepted: int
    duplicates: int
    batch_id: int | None


def ingest_accept(*, events: list[ParsedEvent], source: str) -> AcceptResult:
    """Store a validated batch durably and queue its processing after commit."""
    with transaction.atomic():
        # The same event twice in one batch, or again later: the database keeps one. The
        # outbox row names the stored events and carries what the worker needs of them.
        stored = batch_store(events, received_at=timezone.now(), source=source[:80])
        batch_id = stored.batch_id
        if batch_id is not None:
            transaction.on_commit(lambda: enqueue_batch(batch_id))
    return AcceptResult(stored.accepted, len(events) - stored.accepted, batch_id)


def enqueue_batch(batch_id: int, *, retry: bool = False) -> None:
    """Queue a batch for a worker (``retry``: the sweeper's re-queue, whose attempt is
    counted before it starts). A broker outage is logged: the sweeper re-queues it.

    In the embedded server the batch goes to its in-process runner instead, which
    processes it moments later together with the batches accepted meanwhile (one
    transaction for several requests, not one each); the sweeper's re-queues still run
    at once, and a batch handed over as the server stops stays pending for the sweeper."""
    from cameras.tasks import ingest_batch_task

    if not retry and inprocess.hand_over(IN_PROCESS_RUNNER, batch_id):
        return
    try:
        ingest_batch_task.delay(batch_id, retry=retry)
    except Exception:  # broker down, or (embedded mode) processing failed in-process
        logger.exception("ingest: batch %s not processed now; the sweeper will retry", batch_id)
