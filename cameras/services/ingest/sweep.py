"""The outbox's upkeep, on the beat schedule: batches no worker processed in time are
queued again; processed ones are purged (their events stay in ``DeviceEvent``)."""

from __future__ import annotations

import functools
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cameras.models import IngestBatch
from cameras.services.ingest.failures import ingest_batch_set_aside
from cameras.services.ingest.outbox import enqueue_batch


def ingest_sweep(*, stale_after: timedelta | None = None) -> int:
    """Re-queue accepted batches that no worker has processed in time (the broker lost
    them, a worker died); returns how many were re-queued. A batch whose processing was
    started ``IOC_INGEST_MAX_ATTEMPTS`` times is set aside instead (its events become
    ``IngestFailure`` rows an administrator can replay): it never blocks a queue for ever.
    """
    if stale_after is None:
        stale_after = timedelta(seconds=settings.IOC_INGEST_STALE_SECONDS)
    now = timezone.now()
    stale = IngestBatch.objects.filter(
        processed_at__isnull=True, last_queued_at__lt=now - stale_after
    ).order_by("pk")
    with transaction.atomic():
        for batch in stale.select_for_update(skip_locked=True).filter(
            attempts__gte=settings.IOC_INGEST_MAX_ATTEMPTS
        )[:100]:
            ingest_batch_set_aside(
                batch=batch,
                error=f"not processed after {batch.attempts} attempts; last error: "
                + (batch.last_error or "none recorded (the worker stopped)"),
            )
    again = list(stale.values_list("pk", flat=True)[:5000])
    if again:
        IngestBatch.objects.filter(pk__in=again).update(last_queued_at=now)
        for batch_id in again:
            transaction.on_commit(functools.partial(enqueue_batch, batch_id, retry=True))
    return len(again)


def ingest_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete processed outbox rows (the events themselves stay in DeviceEvent)."""
    cutoff = timezone.now() - older_than
    deleted, _details = IngestBatch.objects.filter(
        processed_at__isnull=False, processed_at__lt=cutoff
    ).delete()
    return deleted
