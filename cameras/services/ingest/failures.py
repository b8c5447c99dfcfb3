"""Accepted events that processing could not take: set aside with their error (by the
worker, event by event, or by the sweeper, a whole batch tried too often), so nothing
behind them waits; an administrator replays them once the cause is fixed."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cameras.models import DeviceEvent, IngestBatch, IngestFailure
from cameras.services.ingest.outbox import enqueue_batch
from ioc.models import User
from ioc.services import audit_record

logger = logging.getLogger(__name__)


def event_row_keep(payload_row: list[Any], received_at: datetime) -> int | None:
    """A reading event of an outbox payload, stored as its readings alone, kept whole as a
    ``DeviceEvent`` row too, for a failure to name and a replay to take (the row kept
    already if it was set aside before); its row id, or None if it cannot be."""
    _pk, device_id, event_id, kind, ts, data = payload_row
    try:
        with transaction.atomic():
            event, _created = DeviceEvent.objects.get_or_create(
                device_id=device_id,
                event_id=event_id,
                ts=datetime.fromisoformat(ts),
                defaults={"type": kind, "data": data, "received_at": received_at},
            )
    except Exception:
        logger.exception("ingest: event %s of %s could not be kept", event_id, device_id)
        return None
    return event.pk


def batch_event_rows(batch: IngestBatch) -> list[int]:
    """The row ids of a batch's events, its reading events stored as readings alone kept
    as rows first (``event_row_keep``)."""
    pks = list(batch.events)
    if batch.payload:
        try:
            payload = orjson.loads(batch.payload)
        except orjson.JSONDecodeError:
            logger.exception("ingest: the payload of batch %s cannot be read", batch.pk)
            payload = []
        for row in payload:
            if row[0] is None:
                kept = event_row_keep(row, batch.received_at)
                if kept is not None:
                    pks.append(kept)
    return pks


def ingest_batch_set_aside(*, batch: IngestBatch, error: str) -> int:
    """Set a batch's events aside (one ``IngestFailure`` each) and mark the batch done, in
    the caller's transaction; returns how many events were set aside."""
    now = timezone.now()
    rows = DeviceEvent.objects.filter(pk__in=batch_event_rows(batch)).values_list(
        "pk", "device_id", "event_id"
    )
    IngestFailure.objects.bulk_create(
        [
            IngestFailure(
                event_id=pk,
                device_id=device_id,
                sent_id=sent_id,
                batch_id=batch.pk,
                error=error[:2000],
                attempts=batch.attempts,
                failed_at=now,
            )
            for pk, device_id, sent_id in rows
        ],
        ignore_conflicts=True,  # an event already set aside keeps its first error
    )
    IngestBatch.objects.filter(pk=batch.pk).update(processed_at=now, last_error=error[:2000])
    logger.error(
        "ingest: batch %s set aside after %s attempts: %s", batch.pk, batch.attempts, error
    )
    return len(rows)


def ingest_failures_replay(*, actor: User, failures: Iterable[IngestFailure]) -> int | None:
    """Queue set-aside events again, as one new batch, and forget their failures (should
    they fail again they are set aside again, with the new error); audited. Returns the
    new batch's id, or None when there was nothing to replay."""
    with transaction.atomic():
        chosen = list(
            IngestFailure.objects.select_for_update().filter(
                pk__in=[failure.pk for failure in failures]
            )
        )
        if not chosen:
            return None
        event_pks = [failure.event_id for failure in chosen]
        received = DeviceEvent.objects.filter(pk__in=event_pks).aggregate(at=Max("received_at"))
        now = timezone.now()
        batch = IngestBatch.objects.create(
            received_at=received["at"] or now,
            source="replay",
            events=event_pks,
            last_queued_at=now,
        )
        audit_record(
            actor=actor,
            action="ingest_batch.replayed",
            obj=batch,
            before={
                "failures": [
                    {"device": f.device_id, "event": f.sent_id, "error": f.error[:200]}
                    for f in chosen[:100]
                ]
            },
            after={"events": len(event_pks)},
        )
        IngestFailure.objects.filter(pk__in=[failure.pk for failure in chosen]).delete()
        transaction.on_commit(functools.partial(enqueue_batch, batch.pk))
    return batch.pk
