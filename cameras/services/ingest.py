"""Feed ingestion (DESIGN.md "Data flow"): accept a batch durably, then process it.

Accepting (in the HTTP request, or the MQTT bridge) validates every event, stores the new
ones in ``DeviceEvent`` (unique per device and event id, so a retried event is counted as a
duplicate and never stored twice) and writes an ``IngestBatch`` outbox row in the same
transaction; the processing task is queued after commit. Processing (in a worker) is
idempotent: it locks the outbox row and does nothing if the batch was already processed,
so a redelivered task (worker killed, sweeper re-queue) stores nothing twice.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from cameras.choices import DeviceKind, DeviceStatus, EventType
from cameras.models import (
    Device,
    DeviceEvent,
    IngestBatch,
    Reading,
    SensorThreshold,
    SignalDetail,
    StatusChange,
)
from ioc import realtime
from ioc.choices import AlertKind, AlertStatus, Severity
from ioc.models import Alert
from ioc.services.alerts import alert_clear, alert_raise

logger = logging.getLogger(__name__)

MAX_EVENTS = 1000
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_FUTURE = timedelta(days=1)
# Alert titles, stored in the platform's language when the alert is raised.
TITLE_THRESHOLD = gettext_noop("%(metric)s = %(value)s %(unit)s at %(device)s (limit %(limit)s)")
TITLE_DETECTION = gettext_noop("Detected %(what)s at %(device)s")
TITLE_FAULT = gettext_noop("Fault %(code)s at %(device)s")
# What cameras detect, as people say it; an unknown kind is shown as sent.
DETECTION_NAMES = {
    "accident": gettext_noop("a traffic accident"),
    "fire": gettext_noop("fire"),
    "smoke": gettext_noop("smoke"),
    "flooding": gettext_noop("flooding"),
    "crowd": gettext_noop("a crowd"),
    "wrong_way": gettext_noop("a wrong-way vehicle"),
    "congestion": gettext_noop("congestion"),
}
DETECTION_SEVERITY = {
    "accident": Severity.CRITICAL,
    "fire": Severity.CRITICAL,
    "flooding": Severity.CRITICAL,
    "wrong_way": Severity.WARNING,
    "crowd": Severity.WARNING,
    "congestion": Severity.WARNING,
    "illegal_parking": Severity.INFO,
}


class IngestRejected(Exception):
    """The whole batch is refused; ``status`` and ``body`` are the HTTP answer."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"detail": detail, **extra}


@dataclass(frozen=True)
class Principal:
    """Who is pushing: one device, or a gateway with its devices."""

    kind: str  # "device" or "gateway"
    code: str
    pk: int


@dataclass(frozen=True)
class ParsedEvent:
    """One validated event."""

    device_id: int
    device_code: str
    event_id: str
    type: str
    ts: datetime
    data: dict[str, Any]


@dataclass
class AcceptResult:
    """What the 202 answer says, and the outbox row that was written (if any)."""

    accepted: int
    duplicates: int
    batch_id: int | None


@dataclass
class ProcessResult:
    """What processing one batch changed."""

    processed: bool
    readings: int = 0
    status_changes: list[tuple[str, str]] = field(default_factory=list)
    alerts_raised: int = 0


# --- Accepting ----------------------------------------------------------------------------


def _has_nul(value: Any) -> bool:
    """PostgreSQL cannot store NUL characters in text or JSON: refuse them up front."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


METRIC_NAME = re.compile(r"^[\w.\-]{1,32}$")


def numeric_values(data: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a reading's data, by metric name (letters, digits, ``_.-``;
    other keys are kept in the event but are not series)."""
    return {
        key: float(value)
        for key, value in data.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and METRIC_NAME.match(key)
    }


EVENT_TYPES = frozenset(EventType.values)


def event_errors(
    raw: Any, *, check_nul: bool = True, latest: datetime | None = None
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Field errors of one raw event, and its cleaned fields when there are none.

    ``latest`` is the latest time accepted (now + ``MAX_FUTURE`` when not given; a batch
    passes it once for all its events)."""
    if not isinstance(raw, dict):
        return {"event": "must be a JSON object"}, None
    errors: dict[str, str] = {}
    event_id, device, ts_text = raw.get("id"), raw.get("device"), raw.get("ts")
    kind, data = raw.get("type"), raw.get("data", {})
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 64:
        errors["id"] = "a string of 1 to 64 characters is required"
    if not isinstance(device, str) or not 0 < len(device) <= 64:
        errors["device"] = "the device code (a string) is required"
    ts = None
    if not isinstance(ts_text, str):
        errors["ts"] = "an ISO 8601 time with a UTC offset is required"
    else:
        try:
            ts = datetime.fromisoformat(ts_text)
        except ValueError:
            errors["ts"] = f"'{ts_text[:40]}' is not an ISO 8601 time"
        else:
            if ts.tzinfo is None or ts.utcoffset() is None:
                errors["ts"] = "the time needs a UTC offset, e.g. 2026-11-21T08:00:00+07:00"
            elif ts > (latest or timezone.now() + MAX_FUTURE):
                errors["ts"] = "the time is more than a day in the future: check the clock"
    if kind not in EVENT_TYPES:
        errors["type"] = f"must be one of {', '.join(EventType.values)}"
    if not isinstance(data, dict):
        errors["data"] = "must be a JSON object"
    elif kind == EventType.READING and not numeric_values(data):
        errors["data"] = 'a reading needs at least one numeric value, e.g. {"pm25": 35.2}'
    if check_nul and _has_nul(raw):
        errors["event"] = "text may not contain NUL characters"
    if errors:
        return errors, None
    return {}, {"id": event_id, "device": device, "ts": ts, "type": kind, "data": data}


def ingest_parse(
    payload: Any, principal: Principal, *, may_hold_nul: bool = True
) -> list[ParsedEvent]:
    """Validate a decoded request body for ``principal``; IngestRejected says what is wrong.

    ``may_hold_nul=False`` skips the search for NUL characters when the caller knows the
    raw body has none (JSON can only carry one escaped, as ``\\u0000``).
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise IngestRejected(400, 'The body must be a JSON object like {"events": [...]}.')
    raw_events = payload["events"]
    if not raw_events:
        raise IngestRejected(400, "The batch has no events.")
    if len(raw_events) > MAX_EVENTS:
        raise IngestRejected(
            413, f"A batch may hold {MAX_EVENTS} events at most; this one has {len(raw_events)}."
        )
    cleaned: list[dict[str, Any]] = []
    errors = []
    latest = timezone.now() + MAX_FUTURE
    for index, raw in enumerate(raw_events):
        event_errors_found, event = event_errors(raw, check_nul=may_hold_nul, latest=latest)
        if event_errors_found:
            event_ref = raw.get("id") if isinstance(raw, dict) else None
            errors.append({"index": index, "id": event_ref, "errors": event_errors_found})
        elif event is not None:
            cleaned.append(event)
    if errors:
        raise IngestRejected(
            400,
            f"{len(errors)} of {len(raw_events)} events are invalid; nothing was stored.",
            errors=errors[:100],
        )
    codes = {event["device"] for event in cleaned}
    known = {
        row["code"]: row
        for row in Device.objects.filter(code__in=codes).values("id", "code", "gateway_id")
    }
    if principal.kind == "device":
        allowed = {code for code in codes if code == principal.code and code in known}
    else:
        allowed = {
            code for code in codes if code in known and known[code]["gateway_id"] == principal.pk
        }
    refused = sorted(codes - allowed)
    if refused:
        raise IngestRejected(
            403,
            f"This {principal.kind} token may not push events for: {', '.join(refused[:20])}.",
            devices=refused[:100],
        )
    return [
        ParsedEvent(
            device_id=known[event["device"]]["id"],
            device_code=event["device"],
            event_id=event["id"],
            type=event["type"],
            ts=event["ts"],
            data=event["data"],
        )
        for event in cleaned
    ]


def _insert_new_events(events: list[ParsedEvent], received_at: datetime) -> list[int]:
    """Insert the events, skipping those already stored; return the new rows' ids.

    The database decides what is a duplicate (ON CONFLICT DO NOTHING on the unique device
    and event id), even across processes. On PostgreSQL the batch goes in by COPY to a
    temporary table and one INSERT ... SELECT from it: half the time of a 500-row VALUES
    list, most of which went to adapting 3,000 parameters. Elsewhere, multi-row INSERTs.
    """
    if connection.vendor == "postgresql":
        return _insert_new_events_copy(events, received_at)
    table = connection.ops.quote_name(DeviceEvent._meta.db_table)
    row = "(%s, %s, %s, %s, %s, %s)"
    received = connection.ops.adapt_datetimefield_value(received_at)
    new: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(events), 500):
            chunk = events[start : start + 500]
            params: list[Any] = []
            for event in chunk:
                params += [
                    event.device_id,
                    event.event_id,
                    event.type,
                    connection.ops.adapt_datetimefield_value(event.ts),
                    received,
                    orjson.dumps(event.data).decode(),
                ]
            cursor.execute(
                f"INSERT INTO {table} (device_id, event_id, type, ts, received_at, data) "  # noqa: S608
                f"VALUES {', '.join([row] * len(chunk))} "
                "ON CONFLICT (device_id, event_id) DO NOTHING RETURNING id",
                params,
            )
            new.extend(int(row[0]) for row in cursor.fetchall())
    return new


# The session's staging table for accepted events (emptied at every commit).
EVENTS_IN = "ioc_ingest_events_in"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """``value`` as a field of COPY's text format (backslash, tab and line ends escaped)."""
    return value.translate(_COPY_ESCAPES)


def _insert_new_events_copy(events: list[ParsedEvent], received_at: datetime) -> list[int]:
    """_insert_new_events on PostgreSQL: COPY to the staging table, then one INSERT."""
    received = received_at.isoformat()
    buffer = io.StringIO()
    for event in events:
        data = copy_text(orjson.dumps(event.data).decode())
        buffer.write(
            f"{event.device_id}\t{copy_text(event.event_id)}\t{event.type}\t"
            f"{event.ts.isoformat()}\t{received}\t{data}\n"
        )
    buffer.seek(0)
    table = connection.ops.quote_name(DeviceEvent._meta.db_table)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {EVENTS_IN} (device_id bigint, "
            "event_id text, type text, ts timestamptz, received_at timestamptz, data jsonb) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.copy_expert(f"COPY {EVENTS_IN} FROM STDIN", buffer)
        cursor.execute(
            f"INSERT INTO {table} (device_id, event_id, type, ts, received_at, data) "  # noqa: S608
            f"SELECT device_id, event_id, type, ts, received_at, data FROM {EVENTS_IN} "
            "ON CONFLICT (device_id, event_id) DO NOTHING RETURNING id"
        )
        new = [int(row[0]) for row in cursor.fetchall()]
        # Emptied now too: a caller's later statement in the same transaction (or a
        # second batch in it) must not see these rows again.
        cursor.execute(f"DELETE FROM {EVENTS_IN}")  # noqa: S608
    return new


def ingest_accept(*, events: list[ParsedEvent], source: str) -> AcceptResult:
    """Store a validated batch durably and queue its processing after commit."""
    received_at = timezone.now()
    with transaction.atomic():
        # The same event twice in one batch, or again later: the database keeps one.
        new_ids = _insert_new_events(events, received_at)
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


def enqueue_batch(batch_id: int) -> None:
    """Queue a batch for a worker. A broker outage is logged: the sweeper re-queues it."""
    from cameras.tasks import ingest_batch_task

    try:
        ingest_batch_task.delay(batch_id)
    except Exception:  # broker down, or (embedded mode) processing failed in-process
        logger.exception("ingest: batch %s not processed now; the sweeper will retry", batch_id)


# --- Processing ---------------------------------------------------------------------------


def _stored_events(pks: list[int]) -> list[tuple[int, int, str, str, datetime, Any]]:
    """The accepted events ``pks`` as (pk, device id, event id, type, ts, data) rows.

    On PostgreSQL one array parameter instead of thousands of placeholders, and ``data``
    read as text and parsed by orjson: for eight batches of 500 events about a fifth of
    the worker's time went to building the IN list and to ``json.loads``."""
    if connection.vendor != "postgresql":
        return list(
            DeviceEvent.objects.filter(pk__in=pks).values_list(
                "pk", "device_id", "event_id", "type", "ts", "data"
            )
        )
    table = connection.ops.quote_name(DeviceEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, device_id, event_id, type, ts, data::text FROM {table}"  # noqa: S608
            " WHERE id = ANY(%s::bigint[])",
            [pks],
        )
        return [
            (pk, device_id, event_id, kind, ts, orjson.loads(data))
            for pk, device_id, event_id, kind, ts, data in cursor.fetchall()
        ]


def _copy_readings(rows: list[tuple[int, str, datetime, float]]) -> None:
    """Append readings: COPY on PostgreSQL (several times faster than INSERT), else bulk."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Reading.objects.bulk_create(
            [Reading(device_id=d, metric=m, ts=ts, value=v) for d, m, ts, v in rows],
            batch_size=1000,
        )
        return
    buffer = io.StringIO()
    stamps: dict[datetime, str] = {}  # the metrics of one event share its timestamp
    for device_id, metric, ts, value in rows:
        stamp = stamps.get(ts)
        if stamp is None:
            stamp = stamps[ts] = ts.isoformat()
        buffer.write(f"{device_id}\t{metric}\t{stamp}\t{value!r}\n")
    buffer.seek(0)
    table = Reading._meta.db_table
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} (device_id, metric, ts, value) FROM STDIN", buffer)


def _title(template: str, **values: Any) -> str:
    """An alert title in the platform's language (alerts are read by people)."""
    with translation.override(settings.LANGUAGE_CODE):
        if "what" in values and values["what"] in DETECTION_NAMES:
            values["what"] = _(DETECTION_NAMES[values["what"]])
        return _(template) % values


@dataclass
class _Thresholds:
    """The threshold rules of a transaction's devices, what processing changed on them, and
    which of them have an open alert.

    Threshold alerts are raised only here, by the worker holding the device's row lock, so
    the set of open ones read at the start stays true while the transaction runs (a staff
    member resolving one meanwhile only makes ``alert_clear`` find nothing): a breach that
    ends without an alert costs no query, and the rules' new ``breach_since`` are written
    in one statement at the end."""

    rules: dict[int, list[SensorThreshold]]
    open_alerts: set[tuple[int, str]]
    changed: dict[int, SensorThreshold] = field(default_factory=dict)

    @classmethod
    def load(cls, device_ids: list[int]) -> _Thresholds:
        rules: dict[int, list[SensorThreshold]] = defaultdict(list)
        for threshold in SensorThreshold.objects.filter(device_id__in=device_ids):
            rules[threshold.device_id].append(threshold)
        open_alerts = (
            set(
                Alert.objects.filter(device_id__in=list(rules), cause__startswith="threshold:")
                .order_by()
                .exclude(status=AlertStatus.RESOLVED)
                .values_list("device_id", "cause")
            )
            if rules
            else set()
        )
        return cls(rules=dict(rules), open_alerts=open_alerts)

    def mark(self, threshold: SensorThreshold, breach_since: datetime | None) -> None:
        threshold.breach_since = breach_since
        self.changed[threshold.pk] = threshold

    def save(self) -> None:
        if self.changed:
            SensorThreshold.objects.bulk_update(list(self.changed.values()), ["breach_since"])


def _apply_thresholds(
    device: Device,
    state: _Thresholds,
    values: dict[str, float],
    ts: datetime,
    result: ProcessResult,
) -> None:
    """Threshold rules: a breach that lasts its tolerance raises; a return clears."""
    for threshold in state.rules.get(device.pk, ()):
        if threshold.metric not in values:
            continue
        value = values[threshold.metric]
        breached = (threshold.high is not None and value > threshold.high) or (
            threshold.low is not None and value < threshold.low
        )
        cause = f"threshold:{threshold.metric}"
        if not breached:
            if threshold.breach_since is not None:
                state.mark(threshold, None)
                if (device.pk, cause) in state.open_alerts:
                    alert_clear(device=device, cause=cause, at=ts)
                    state.open_alerts.discard((device.pk, cause))
            continue
        since = threshold.breach_since
        if since is None:
            since = ts
            state.mark(threshold, since)
        if (ts - since).total_seconds() >= threshold.tolerance_seconds:
            limit = (
                threshold.high
                if threshold.high is not None and value > threshold.high
                else threshold.low
            )
            _alert, created = alert_raise(
                ward=device.ward,
                device=device,
                kind=AlertKind.THRESHOLD,
                cause=cause,
                severity=Severity(threshold.severity),
                title=_title(
                    TITLE_THRESHOLD,
                    metric=threshold.metric,
                    value=f"{value:g}",
                    unit=threshold.unit,
                    device=device.name,
                    limit=f"{limit:g}" if limit is not None else "",
                ),
                at=ts,
                data={"metric": threshold.metric, "value": value, "limit": limit},
            )
            result.alerts_raised += int(created)
            state.open_alerts.add((device.pk, cause))


def _apply_detection(
    device: Device, data: dict[str, Any], ts: datetime, result: ProcessResult
) -> None:
    """Camera detections (accident, flooding, fire, crowd, wrong way…) raise alerts."""
    what = str(data.get("kind") or data.get("class") or "unknown")[:40]
    cause = f"detection:{what}"
    if data.get("active") is False:
        alert_clear(device=device, cause=cause, at=ts)
        return
    severity = data.get("severity")
    if severity not in Severity.values:
        severity = DETECTION_SEVERITY.get(what, Severity.WARNING)
    _alert, created = alert_raise(
        ward=device.ward,
        device=device,
        kind=AlertKind.DETECTION,
        cause=cause,
        severity=Severity(severity),
        title=_title(TITLE_DETECTION, what=what, device=device.name),
        at=ts,
        data={
            key: value for key, value in data.items() if key in {"kind", "confidence", "snapshot"}
        },
    )
    result.alerts_raised += int(created)


def _apply_fault(device: Device, data: dict[str, Any], ts: datetime, result: ProcessResult) -> None:
    """Device faults (a signal's lamp failure, a camera's tampering…) raise alerts."""
    code = str(data.get("code") or "fault")[:40]
    cause = f"fault:{code}"
    if data.get("cleared"):
        alert_clear(device=device, cause=cause, at=ts)
        return
    _alert, created = alert_raise(
        ward=device.ward,
        device=device,
        kind=AlertKind.FAULT,
        cause=cause,
        severity=Severity.CRITICAL if device.kind == DeviceKind.SIGNAL else Severity.WARNING,
        title=_title(TITLE_FAULT, code=code, device=device.name),
        at=ts,
        data={"code": code, "message": str(data.get("message", ""))[:200]},
    )
    result.alerts_raised += int(created)


def _next_status(current: str, event_type: str, data: dict[str, Any]) -> str:
    """The status a report implies. Maintenance is set by staff only; a report from an
    offline device brings it back online; faults stay until cleared."""
    if current == DeviceStatus.MAINTENANCE:
        return current
    if event_type == EventType.STATUS and data.get("status") in {
        DeviceStatus.ONLINE,
        DeviceStatus.FAULT,
    }:
        return str(data["status"])
    if event_type == EventType.FAULT:
        return DeviceStatus.ONLINE if data.get("cleared") else DeviceStatus.FAULT
    if current == DeviceStatus.OFFLINE:
        return DeviceStatus.ONLINE
    return current


def _apply_signal_state(device: Device, data: dict[str, Any], ts: datetime) -> None:
    """A controller's reported mode, plan, phase and faults."""
    fields = {key: data[key] for key in ("mode", "plan", "phase") if isinstance(data.get(key), str)}
    if isinstance(data.get("faults"), list):
        fields["faults"] = [str(item)[:60] for item in data["faults"]][:20]
    if fields:
        SignalDetail.objects.filter(device=device).update(**fields, state_at=ts, comm_status="ok")


def status_change(device: Device, new_status: str, at: datetime, cause: str) -> StatusChange:
    """Record a status flip, with its history row and its live event (the caller saves)."""
    change = StatusChange(
        device=device, at=at, from_status=device.status, to_status=new_status, cause=cause[:200]
    )
    device.status = new_status
    device.status_changed_at = at
    from cameras.services.registry import device_status_event

    realtime.publish(device_status_event(device))
    return change


# A worker takes the batch it was asked for plus up to this many other pending ones in one
# transaction: fewer commits and device-row updates when the queue is long.
BATCHES_PER_TRANSACTION = 8


def ingest_batch_process(batch_id: int) -> ProcessResult:
    """Process an accepted batch exactly once: readings, latest state, rules, live events.

    Batches are locked with SKIP LOCKED: a batch another worker is processing is left to
    it (and, should that worker die, to the sweeper).
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The events themselves were committed durably when accepted; what is derived
            # here is redone by the sweeper if a crash loses this commit, since the batch
            # then stays unprocessed. So this commit need not wait for the disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        pending = IngestBatch.objects.select_for_update(skip_locked=True).filter(
            processed_at__isnull=True
        )
        batch = pending.filter(pk=batch_id).first()
        if batch is None:
            return ProcessResult(processed=False)
        batches = [
            batch,
            *pending.exclude(pk=batch_id).order_by("pk")[: BATCHES_PER_TRANSACTION - 1],
        ]
        result = _process(batches)
        IngestBatch.objects.filter(pk__in=[b.pk for b in batches]).update(
            processed_at=timezone.now(), attempts=F("attempts") + 1
        )
        return result


def _process(batches: list[IngestBatch]) -> ProcessResult:
    """The work of ingest_batch_process, for batches already locked."""
    result = ProcessResult(processed=True)
    by_device: dict[int, list[tuple[str, str, datetime, dict[str, Any], datetime]]] = defaultdict(
        list
    )
    received = {}
    for batch in batches:
        received.update(dict.fromkeys(batch.events, batch.received_at))
    for pk, device_id, event_id, kind, ts, data in _stored_events(list(received)):
        by_device[device_id].append((event_id, kind, ts, data, received[pk]))
    devices = {
        device.pk: device
        for device in Device.objects.select_for_update(of=("self",))
        .select_related("ward")
        .filter(pk__in=sorted(by_device))
        .order_by("pk")
    }
    thresholds = _Thresholds.load(list(devices))
    readings: list[tuple[int, str, datetime, float]] = []
    changes: list[StatusChange] = []
    changed_devices: list[Device] = []
    for device_id, events in by_device.items():
        device = devices.get(device_id)
        if device is None:
            continue  # deleted since it was accepted
        events.sort(key=lambda item: item[2])
        previous_seen = device.last_seen_at
        latest = dict(device.latest)
        status = device.status
        newest: tuple[datetime, datetime] | None = None
        for _event_id, kind, ts, data, received_at in events:
            values = numeric_values(data) if kind == EventType.READING else {}
            readings.extend((device_id, metric, ts, value) for metric, value in values.items())
            if kind == EventType.DETECTION:
                _apply_detection(device, data, ts, result)
            elif kind == EventType.FAULT:
                _apply_fault(device, data, ts, result)
            if previous_seen is not None and ts <= previous_seen:
                continue  # out of order: stored, but never overwrites newer state
            newest = (ts, max(received_at, newest[1]) if newest else received_at)
            latest.update(values)
            if values and device_id in thresholds.rules:
                _apply_thresholds(device, thresholds, values, ts, result)
            if kind == EventType.STATUS and device.kind == DeviceKind.SIGNAL:
                _apply_signal_state(device, data, ts)
            new_status = _next_status(status, kind, data)
            if new_status != status:
                changes.append(status_change(device, new_status, ts, f"report:{kind}"))
                result.status_changes.append((device.code, new_status))
                if new_status == DeviceStatus.ONLINE:
                    alert_clear(device=device, cause="offline", at=ts)
                status = new_status
        if newest is not None:
            device.last_seen_at, device.last_received_at = newest
            fresh_values = {k: v for k, v in latest.items() if device.latest.get(k) != v}
            device.latest = latest
            changed_devices.append(device)
            if fresh_values:
                # One coalesced reading event per device and transaction, not one per event.
                realtime.publish(
                    realtime.Event(
                        type=realtime.EventType.DEVICE_READING,
                        ward=device.ward.code,
                        data={
                            "device": device.code,
                            "values": fresh_values,
                            "ts": device.last_seen_at,
                        },
                    )
                )
    _copy_readings(readings)
    thresholds.save()
    StatusChange.objects.bulk_create(changes)
    _save_device_state(changed_devices)
    result.readings = len(readings)
    return result


# What processing changes on a device row.
STATE_FIELDS = ("last_seen_at", "last_received_at", "latest", "status", "status_changed_at")


def _save_device_state(devices: list[Device]) -> None:
    """Write the devices' latest state: on PostgreSQL one UPDATE ... FROM unnest(arrays)
    (bulk_update's CASE expressions cost the worker an eighth of its time), else
    bulk_update."""
    if not devices:
        return
    if connection.vendor != "postgresql":
        Device.objects.bulk_update(devices, list(STATE_FIELDS), batch_size=500)
        return
    table = connection.ops.quote_name(Device._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS d SET last_seen_at = v.last_seen_at, "  # noqa: S608
            "last_received_at = v.last_received_at, latest = v.latest, status = v.status, "
            "status_changed_at = v.status_changed_at FROM unnest(%s::bigint[], "
            "%s::timestamptz[], %s::timestamptz[], %s::jsonb[], %s::text[], "
            "%s::timestamptz[]) AS v(id, last_seen_at, last_received_at, latest, status, "
            "status_changed_at) WHERE d.id = v.id",
            [
                [device.pk for device in devices],
                [device.last_seen_at for device in devices],
                [device.last_received_at for device in devices],
                [orjson.dumps(device.latest).decode() for device in devices],
                [device.status for device in devices],
                [device.status_changed_at for device in devices],
            ],
        )


# --- Sweeping -----------------------------------------------------------------------------


def ingest_sweep(*, stale_after: timedelta | None = None) -> int:
    """Re-queue accepted batches that no worker has processed in time (the broker lost
    them, a worker died); returns how many were re-queued."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.IOC_INGEST_STALE_SECONDS)
    now = timezone.now()
    stale = list(
        IngestBatch.objects.filter(processed_at__isnull=True, last_queued_at__lt=now - stale_after)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    if stale:
        IngestBatch.objects.filter(pk__in=stale).update(last_queued_at=now)
        for batch_id in stale:
            transaction.on_commit(functools.partial(enqueue_batch, batch_id))
    return len(stale)


def ingest_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete processed outbox rows (the events themselves stay in DeviceEvent)."""
    cutoff = timezone.now() - older_than
    deleted, _details = IngestBatch.objects.filter(
        processed_at__isnull=False, processed_at__lt=cutoff
    ).delete()
    return deleted
