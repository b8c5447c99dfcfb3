"""The outbox: a validated batch is stored durably with its ``IngestBatch`` row in one
transaction, and its processing is queued after commit (``cameras.tasks``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from cameras.models import IngestBatch
from cameras.services.ingest.copy import insert_new_events
from cameras.services.ingest.validation import ParsedEvent

logger = logging.getLogger(__name__)


@dataclass
class AcceptResult:
    """What the 202 answer says, and the outbox row that was written (if any)."""

    accepted: int
    duplicates: int
    batch_id: int | None


def ingest_accept(*, events: list[ParsedEvent], source: str) -> AcceptResult:
    """Store a validated batch durably and queue its processing after commit."""
    received_at = timezone.now()
    with transaction.atomic():
        # The same event twice in one batch, or again later: the database keeps one.
        new_ids = insert_new_events(events, received_at)
        batch_id = None
        if new_ids:
            # The outbox names the stored events; the worker reads them from there.
            batch = IngestBatch.objects.create(
                received_at=received_at,
                source=source[:80],
                last_queued_at=received_at,
                events=new_ids,
            )
            batch_id = batch.pk
            transaction.on_commit(lambda: enqueue_batch(batch.pk))
    return AcceptResult(len(new_ids), len(events) - len(new_ids), batch_id)


def enqueue_batch(batch_id: int, *, retry: bool = False) -> None:
    """Queue a batch for a worker (``retry``: the sweeper's re-queue, whose attempt is
    counted before it starts). A broker outage is logged: the sweeper re-queues it."""
    from cameras.tasks import ingest_batch_task

    try:
        ingest_batch_task.delay(batch_id, retry=retry)
    except Exception:  # broker down, or (embedded mode) processing failed in-process
        logger.exception("ingest: batch %s not processed now; the sweeper will retry", batch_id)
