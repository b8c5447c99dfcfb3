"""Processing accepted batches in a worker, exactly once: the events taken from the outbox
row (read back only for a replay's batch), each device's reports applied in time order
(rules, status, latest state), and what changed written in bulk at the end of one
transaction. Readings were stored when the batch was accepted; only those of events kept
as rows (accepted by an earlier version, or replayed) are written here, once."""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from cameras.choices import DeviceKind, DeviceStatus, EventType
from cameras.models import Device, DeviceEvent, IngestBatch, IngestFailure, StatusChange
from cameras.services.device_state import device_status_change
from cameras.services.ingest.copy import ReadingGroup, readings_append_new
from cameras.services.ingest.failures import event_row_keep
from cameras.services.ingest.rules import (
    Thresholds,
    detection_apply,
    fault_apply,
    offline_clear,
    thresholds_apply,
)
from cameras.services.ingest.state import device_state_save, next_status, signal_state_apply
from cameras.services.ingest.validation import numeric_values
from ioc import realtime
from ioc.realtime import event_types

logger = logging.getLogger(__name__)


@dataclass
class ProcessResult:
    """What processing one batch changed."""

    processed: bool
    batches: list[int] = field(default_factory=list)
    readings: int = 0
    status_changes: list[tuple[str, str]] = field(default_factory=list)
    alerts_raised: int = 0


# A worker takes the batch it was asked for plus up to this many other pending ones in one
# transaction: fewer commits and device-row updates when the queue is long. A transaction
# costs about 30 ms whatever its size (the devices locked, read and updated, their live
# events): 16 batches of 500 took a quarter less CPU per event than 8, 32 little less.
BATCHES_PER_TRANSACTION = 16
# Errors of the connection or the server, not of the events: the batch stays pending and
# is tried again (by the sweeper), never set aside for them.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def ingest_batch_process(
    batch_id: int, *, retry: bool = False, gather: bool = False
) -> ProcessResult:
    """Process an accepted batch exactly once: readings, latest state, rules, live events.

    Batches are locked with SKIP LOCKED: a batch another worker is processing is left to
    it (and, should that worker die, to the sweeper). When the transaction fails, the same
    batches are processed again one by one, and a failing batch event by event, each in
    a savepoint: the events that fail are set aside (``IngestFailure``) with their error,
    and every other event is processed. ``retry`` (the sweeper's re-queue) counts the
    attempt before it starts, so a batch that kills its worker is set aside after
    ``IOC_INGEST_MAX_ATTEMPTS`` runs instead of being queued for ever. ``gather`` (a
    worker's first delivery) starts only once the batch is ``IOC_INGEST_WORKER_GATHER_MS``
    old, so that the transaction takes the batches accepted meanwhile.
    """
    if gather and not _gathered(batch_id):
        return ProcessResult(processed=False)  # processed already, with another
    if retry and not _attempt_count(batch_id):
        return ProcessResult(processed=False)
    try:
        try:
            return _process_together(batch_id, counted=retry)
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            logger.exception("ingest: batch %s failed; processing it batch by batch", batch_id)
            return _process_apart(batch_id, counted=retry)
    except Exception as exc:
        _attempt_failed(batch_id, exc, count=not retry)
        raise


def _gathered(batch_id: int) -> bool:
    """Wait until the batch is ``IOC_INGEST_WORKER_GATHER_SECONDS`` old; False, at once,
    if it is processed already (a companion of another transaction: most tasks, under
    load)."""
    received_at = (
        IngestBatch.objects.filter(pk=batch_id, processed_at__isnull=True)
        .values_list("received_at", flat=True)
        .first()
    )
    if received_at is None:
        return False
    wait = settings.IOC_INGEST_WORKER_GATHER_SECONDS - (
        (timezone.now() - received_at).total_seconds()
    )
    if wait > 0:
        time.sleep(wait)
    return True


def _attempt_count(batch_id: int) -> bool:
    """Count an attempt on a pending batch, committed before it starts; False if done."""
    return bool(
        IngestBatch.objects.filter(pk=batch_id, processed_at__isnull=True).update(
            attempts=F("attempts") + 1
        )
    )


def _attempt_failed(batch_id: int, exc: BaseException, *, count: bool) -> None:
    """Count a failed attempt (unless its start was counted) and keep its error (best
    effort: the database may be gone)."""
    changes: dict[str, Any] = {"last_error": _error_text(exc)}
    if count:
        changes["attempts"] = F("attempts") + 1
    try:
        IngestBatch.objects.filter(pk=batch_id, processed_at__isnull=True).update(**changes)
    except Exception:
        logger.exception("ingest: could not record the failure of batch %s", batch_id)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _locked_batches(batch_id: int, companions: int) -> list[IngestBatch]:
    """The batch (if pending and not locked by another worker) and up to ``companions``
    other pending ones, locked for this transaction."""
    pending = (
        IngestBatch.objects.select_for_update(skip_locked=True)
        .filter(processed_at__isnull=True)
        .only("received_at", "payload", "attempts")  # the ids, if need be, when needed
    )
    batch = pending.filter(pk=batch_id).first()
    if batch is None:
        return []
    return [batch, *pending.exclude(pk=batch_id).order_by("pk")[:companions]]


def _relax_commit() -> None:
    if connection.vendor == "postgresql":
        # The events themselves were committed durably when accepted; what is derived
        # here is redone by the sweeper if a crash loses this commit, since the batch
        # then stays unprocessed. So this commit need not wait for the disk.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _mark_processed(batches: list[IngestBatch], *, counted: int | None) -> None:
    """The batches done (an attempt each, except ``counted``, whose start was counted)."""
    now = timezone.now()
    IngestBatch.objects.filter(pk__in=[b.pk for b in batches if b.pk != counted]).update(
        processed_at=now, attempts=F("attempts") + 1
    )
    if counted is not None:
        IngestBatch.objects.filter(pk=counted).update(processed_at=now)


def _process_together(batch_id: int, *, counted: bool) -> ProcessResult:
    """The fast way: the batch and its companions in one transaction."""
    with transaction.atomic():
        batches = _locked_batches(batch_id, BATCHES_PER_TRANSACTION - 1)
        if not batches:  # a companion of another transaction: most tasks, under load
            return ProcessResult(processed=False)
        _relax_commit()
        result = _process([event for batch in batches for event in _events(batch)])
        _mark_processed(batches, counted=batch_id if counted else None)
        result.batches = [batch.pk for batch in batches]
        return result


def _process_apart(batch_id: int, *, counted: bool) -> ProcessResult:
    """After a failed transaction: the same batches each in a savepoint, and a batch that
    still fails event by event; the events that fail are set aside with their error."""
    result = ProcessResult(processed=True)
    with transaction.atomic():
        _relax_commit()
        batches = _locked_batches(batch_id, BATCHES_PER_TRANSACTION - 1)
        if not batches:
            return ProcessResult(processed=False)
        for batch in batches:
            try:
                with transaction.atomic():
                    _merge(result, _process(_events(batch)))
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                for pk, row, load in _one_by_one(batch):
                    try:
                        with transaction.atomic():
                            _merge(result, _process(load()))
                    except TRANSIENT_ERRORS:
                        raise
                    except Exception as exc:
                        _set_aside(pk, row, batch, exc)
        _mark_processed(batches, counted=batch_id if counted else None)
    result.batches = [batch.pk for batch in batches]
    return result


def ingest_batches_process(batch_ids: list[int]) -> int:
    """Process the accepted batches ``batch_ids`` (those still pending), several to a
    transaction as ``ingest_batch_process`` takes them; returns how many were processed.

    The embedded server's in-process ingest: one call for every batch accepted since the
    last. A batch whose processing fails stays pending (its error recorded) for the sweeper,
    as when a worker fails it, and the others go on."""
    waiting = sorted(set(batch_ids))
    processed = 0
    while waiting:
        batch_id = waiting.pop(0)
        try:
            done = ingest_batch_process(batch_id).batches
        except Exception:
            logger.exception("ingest: batch %s not processed now; the sweeper will retry", batch_id)
            continue
        processed += len(done)
        if done:
            taken = set(done)
            waiting = [pk for pk in waiting if pk not in taken]
    return processed


def _merge(total: ProcessResult, part: ProcessResult) -> None:
    total.readings += part.readings
    total.status_changes += part.status_changes
    total.alerts_raised += part.alerts_raised


def _set_aside(
    event_pk: int | None, payload_row: list[Any] | None, batch: IngestBatch, exc: BaseException
) -> None:
    """Keep a failing event aside with its error (read without its own row's ``ts`` or
    ``data``, which may be what cannot be read). A reading event stored as its readings
    alone is kept whole as a ``DeviceEvent`` first, for the failure to name and a replay
    to take (its readings are stored already: the replay leaves them)."""
    logger.error(
        "ingest: event %s of batch %s set aside: %s",
        event_pk if payload_row is None else payload_row[2],
        batch.pk,
        exc,
    )
    if event_pk is None and payload_row is not None:
        event_pk = event_row_keep(payload_row, batch.received_at)
    if event_pk is None:
        return
    row = DeviceEvent.objects.filter(pk=event_pk).values("device_id", "event_id").first()
    if row is None:
        return  # the device was deleted since: nothing to keep
    IngestFailure.objects.update_or_create(
        event_id=event_pk,
        defaults={
            "device_id": row["device_id"],
            "sent_id": row["event_id"],
            "batch_id": batch.pk,
            "error": _error_text(exc),
            "attempts": batch.attempts + 1,
            "failed_at": timezone.now(),
        },
    )


# One event as processing takes it: (row id, device id, event id as sent, type, ts, data,
# when it reached the platform). The row id is None for a reading event stored as its
# readings alone (``batch_store``).
Event = tuple[int | None, int, str, str, datetime, dict[str, Any], datetime]
# What _process_device needs of one of a device's events: (type, ts, data, received at,
# event id as sent, whether its readings may still need writing).
DeviceReport = tuple[str, datetime, dict[str, Any], datetime, str, bool]


def _events(batch: IngestBatch) -> list[Event]:
    """A batch's events: from its payload, or read back when it has none (a replay's batch,
    or one accepted before payloads were written)."""
    if batch.payload:
        return _payload_events(orjson.loads(batch.payload), batch.received_at)
    return _stored_events(batch.events, batch.received_at)


def _one_by_one(
    batch: IngestBatch,
) -> list[tuple[int | None, list[Any] | None, Callable[[], list[Event]]]]:
    """A batch's events one at a time, for a batch that failed: each event's row id (None
    for readings stored alone), its payload row, and how to take it (so that an event that
    cannot even be read fails alone)."""
    received_at = batch.received_at
    if batch.payload:
        return [
            (row[0], row, functools.partial(_payload_events, [row], received_at))
            for row in orjson.loads(batch.payload)
        ]
    return [(pk, None, functools.partial(_stored_events, [pk], received_at)) for pk in batch.events]


def _payload_events(rows: list[Any], received_at: datetime) -> list[Event]:
    """Events from an outbox payload: [row id, device id, event id, type, ts, data] each."""
    return [
        (pk, device_id, event_id, kind, datetime.fromisoformat(ts), data, received_at)
        for pk, device_id, event_id, kind, ts, data in rows
    ]


@dataclass
class _Pending:
    """What a transaction's devices changed, written in bulk when they have all been seen."""

    thresholds: Thresholds
    # readings of events kept as rows (``DeviceEvent``): those accepted before reading
    # events were stored as their readings, and replays; written unless already stored
    readings: list[ReadingGroup] = field(default_factory=list)
    readings_seen: int = 0
    changes: list[StatusChange] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)


# The device columns processing reads, and its ward's.
PROCESSED_FIELDS = (
    "code",
    "name",
    "kind",
    "status",
    "status_changed_at",
    "last_seen_at",
    "last_received_at",
    "latest",
    "ward__code",
    "ward__name",
)


def _process(events: list[Event]) -> ProcessResult:
    """The work of ingest_batch_process, for the events of batches already locked."""
    result = ProcessResult(processed=True)
    by_device: dict[int, list[DeviceReport]] = defaultdict(list)
    for pk, device_id, event_id, kind, ts, data, received_at in events:
        by_device[device_id].append((kind, ts, data, received_at, event_id, pk is not None))
    devices = {
        device.pk: device
        # FOR NO KEY UPDATE: it keeps two workers off a device, but not the accepts, which
        # hold their devices FOR KEY SHARE (as the foreign key's check did) until commit
        for device in Device.objects.select_for_update(of=("self",), no_key=True)
        .select_related("ward")
        # what processing reads: a model instance of every column (a ward's boundary is
        # kilobytes of JSON) cost the worker a quarter of its time; what a rare path reads
        # besides (an alert's text, a status event) is loaded when it does
        .only(*PROCESSED_FIELDS)
        .filter(pk__in=sorted(by_device))
        .order_by("pk")
    }
    pending = _Pending(thresholds=Thresholds.load(list(devices)))
    for device_id, reports in by_device.items():
        device = devices.get(device_id)
        if device is None:
            continue  # deleted since it was accepted
        _process_device(device, reports, pending, result)
    readings_append_new(pending.readings)
    pending.thresholds.save()
    StatusChange.objects.bulk_create(pending.changes)
    device_state_save(pending.devices)
    result.readings = pending.readings_seen
    return result


def _process_device(
    device: Device, events: list[DeviceReport], pending: _Pending, result: ProcessResult
) -> None:
    """Apply one device's events in time order; its writes are left in ``pending``."""
    events.sort(key=lambda item: item[1])
    previous_seen = device.last_seen_at
    latest = dict(device.latest)
    status = device.status
    newest: tuple[datetime, datetime] | None = None
    for kind, ts, data, received_at, event_id, as_row in events:
        values = numeric_values(data) if kind == EventType.READING else {}
        pending.readings_seen += len(values)
        if as_row and values:
            pending.readings.append((device.pk, ts, event_id, values))
        if kind == EventType.DETECTION:
            result.alerts_raised += detection_apply(device, data, ts)
        elif kind == EventType.FAULT:
            result.alerts_raised += fault_apply(device, data, ts)
        if previous_seen is not None and ts <= previous_seen:
            continue  # out of order: stored, but never overwrites newer state
        newest = (ts, max(received_at, newest[1]) if newest else received_at)
        latest.update(values)
        if values and device.pk in pending.thresholds.rules:
            result.alerts_raised += thresholds_apply(device, pending.thresholds, values, ts)
        if kind == EventType.STATUS and device.kind == DeviceKind.SIGNAL:
            signal_state_apply(device, data, ts)
        new_status = next_status(status, kind, data)
        if new_status != status:
            change = device_status_change(
                device=device, status=new_status, at=ts, cause=f"report:{kind}", save=False
            )
            pending.changes.append(change)
            result.status_changes.append((device.code, new_status))
            if new_status == DeviceStatus.ONLINE:
                offline_clear(device, ts)
            status = new_status
    if newest is None:
        return
    device.last_seen_at, device.last_received_at = newest
    fresh_values = {k: v for k, v in latest.items() if device.latest.get(k) != v}
    device.latest = latest
    pending.devices.append(device)
    if fresh_values:
        # One coalesced reading event per device and transaction, not one per event.
        realtime.publish(
            event_types.device_reading(
                ward=device.ward.code,
                device=device.code,
                values=fresh_values,
                ts=device.last_seen_at,
            )
        )


def _stored_events(pks: list[int], received_at: datetime) -> list[Event]:
    """The accepted events ``pks``, read back (a batch without a payload).

    On PostgreSQL one array parameter instead of thousands of placeholders, and ``data``
    read as text and parsed by orjson."""
    if connection.vendor != "postgresql":
        return [
            (pk, device_id, event_id, kind, ts, data, received_at)
            for pk, device_id, event_id, kind, ts, data in DeviceEvent.objects.filter(
                pk__in=pks
            ).values_list("pk", "device_id", "event_id", "type", "ts", "data")
        ]
    table = connection.ops.quote_name(DeviceEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, device_id, event_id, type, ts, data::text FROM {table}"  # noqa: S608
            " WHERE id = ANY(%s::bigint[])",
            [pks],
        )
        return [
            (pk, device_id, event_id, kind, ts, orjson.loads(data), received_at)
            for pk, device_id, event_id, kind, ts, data in cursor.fetchall()
        ]
