"""Validation of pushed events: each field checked, then the devices the principal may
push for (``ingest_parse``); what fails is refused whole, with the HTTP answer to give."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from django.conf import settings
from django.utils import timezone

from cameras.choices import EventType
from cameras.models import Device, SignalDetail
from cameras.principals import Principal

MAX_EVENTS = 1000
MAX_BODY_BYTES = 5 * 1024 * 1024
# The earliest device time taken: before it is a clock never set (year 1 is even stored as
# 1 BC by PostgreSQL, and then cannot be read back).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# An event's ``data``: nesting and size well past any device's report, well short of what
# the JSON encoders and the database refuse (orjson stops at 255 levels).
MAX_DATA_DEPTH = 16
MAX_DATA_BYTES = 64 * 1024
# Text a controller's status report writes into SignalDetail's columns.
SIGNAL_TEXT_LIMITS = {
    name: int(getattr(SignalDetail._meta.get_field(name), "max_length", 0) or 0)
    for name in ("mode", "plan", "phase")
}


def latest_accepted() -> datetime:
    """The latest device time accepted now: a device clock ahead by more than
    ``IOC_INGEST_MAX_FUTURE_SECONDS`` would freeze its state (an older report never
    overwrites a newer one), so its events are refused until the clock is fixed."""
    return timezone.now() + timedelta(seconds=settings.IOC_INGEST_MAX_FUTURE_SECONDS)


class IngestRejected(Exception):
    """The whole batch is refused; ``status`` and ``body`` are the HTTP answer."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"detail": detail, **extra}


class ParsedEvent(NamedTuple):
    """One validated event (a named tuple: a batch makes a thousand of them, at a third of
    a frozen dataclass's cost each)."""

    device_id: int
    device_code: str
    event_id: str
    type: str
    ts: datetime
    data: dict[str, Any]
    # a reading's series, when validation found them (else worked out when needed)
    values: dict[str, float] | None = None


def _has_nul(value: Any) -> bool:
    """PostgreSQL cannot store NUL characters in text or JSON: refuse them up front."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _too_deep(value: Any, depth: int) -> bool:
    """Whether ``value`` nests containers deeper than ``depth`` more levels."""
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    if depth <= 0:
        return True
    return any(_too_deep(child, depth - 1) for child in children if isinstance(child, dict | list))


def data_problem(data: dict[str, Any]) -> str:
    """Why an event's ``data`` cannot be taken (too deep, too large), or ""."""
    # Most reports are flat: their depth needs no walk.
    nested = any(type(value) is dict or type(value) is list for value in data.values())
    if nested and _too_deep(data, MAX_DATA_DEPTH):
        return f"nested more than {MAX_DATA_DEPTH} levels deep"
    try:
        size = len(orjson.dumps(data))
    except orjson.JSONEncodeError:  # numbers past 64 bits, and the like
        return "cannot be stored as JSON"
    if size > MAX_DATA_BYTES:
        return f"larger than {MAX_DATA_BYTES // 1024} KB"
    return ""


def signal_text_problem(data: dict[str, Any]) -> str:
    """Why a status report's mode, plan or phase cannot be stored, or ""."""
    for name, limit in SIGNAL_TEXT_LIMITS.items():
        value = data.get(name)
        if isinstance(value, str) and len(value) > limit:
            return f"'{name}' is longer than {limit} characters"
    return ""


METRIC_NAME = re.compile(r"^[\w.\-]{1,32}$")


@functools.lru_cache(maxsize=4096)
def is_metric_name(key: str) -> bool:
    """Whether a key of a reading names a series (letters, digits, ``_.-``, 32 at most);
    remembered, since devices send the same few names again and again."""
    return METRIC_NAME.match(key) is not None


def numeric_values(data: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a reading's data, by metric name (other keys are kept in the
    event but are not series). Run for every event twice (checked, then processed): plain
    type tests rather than isinstance, so booleans are left out without a second test."""
    values: dict[str, float] = {}
    for key, value in data.items():
        kind = type(value)
        if (kind is float or kind is int) and is_metric_name(key):
            number = float(value)
            if math.isfinite(number):
                values[key] = number
    return values


EVENT_TYPES = frozenset(EventType.values)


def event_errors(
    raw: Any, *, check_nul: bool = True, latest: datetime | None = None
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Field errors of one raw event, and its cleaned fields when there are none.

    ``latest`` is the latest time accepted (``latest_accepted()`` when not given; a batch
    passes it once for all its events). What storage or processing would refuse is refused
    here, with the field it concerns: times outside [2000, now + a few minutes], ``data``
    nested or sized past ``MAX_DATA_DEPTH`` / ``MAX_DATA_BYTES``, a signal's mode, plan or
    phase longer than its column."""
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
            elif ts < EARLIEST:
                errors["ts"] = "the time is before 2000: the device's clock is not set"
            elif ts > (latest or latest_accepted()):
                errors["ts"] = "the time is in the future: check the device's clock"
    if kind not in EVENT_TYPES:
        errors["type"] = f"must be one of {', '.join(EventType.values)}"
    if not isinstance(data, dict):
        errors["data"] = "must be a JSON object"
    elif kind == EventType.READING and not numeric_values(data):
        errors["data"] = 'a reading needs at least one numeric value, e.g. {"pm25": 35.2}'
    else:
        problem = data_problem(data) or (
            signal_text_problem(data) if kind == EventType.STATUS else ""
        )
        if problem:
            errors["data"] = problem
    if check_nul and _has_nul(raw):
        errors["event"] = "text may not contain NUL characters"
    if errors:
        return errors, None
    return {}, {"id": event_id, "device": device, "ts": ts, "type": kind, "data": data}


# A reading's series a plain event may carry: well under MAX_DATA_BYTES however long the
# names (32 characters, 4 bytes each at most) and the numbers.
PLAIN_SERIES = 256
INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1


def _plain_values(data: dict[str, Any]) -> dict[str, float] | None:
    """A reading's data as series when it holds nothing but finite numbers under metric
    names (then ``numeric_values`` gives the same, and ``data_problem`` has nothing to
    find); None for anything else."""
    if not data or len(data) > PLAIN_SERIES:
        return None
    values: dict[str, float] = {}
    isfinite = math.isfinite
    for key, value in data.items():
        kind = type(value)
        if kind is float:
            if not isfinite(value):
                return None
        elif kind is int:
            if not INT64_MIN <= value <= UINT64_MAX:  # what orjson cannot write back
                return None
            value = float(value)
        else:
            return None
        if not is_metric_name(key):
            return None
        values[key] = value
    return values


# A checked event before its device is known: (device code, id, type, ts, data, series).
Checked = tuple[str, str, str, datetime, dict[str, Any], dict[str, float] | None]


def _plain_event(raw: Any, latest: datetime) -> Checked | None:
    """The fields of an event that needs no closer look, checked as ``event_errors`` checks
    them: a reading of numbers only, or a heartbeat without data, every field right. None
    for anything else, which ``event_errors`` then checks field by field (most batches
    are all plain: this is a third of its time)."""
    if type(raw) is not dict:
        return None
    event_id, device, ts_text = raw.get("id"), raw.get("device"), raw.get("ts")
    kind, data = raw.get("type"), raw.get("data", {})
    if (
        type(event_id) is not str
        or not 0 < len(event_id) <= 64
        or type(device) is not str
        or not 0 < len(device) <= 64
        or type(ts_text) is not str
        or type(data) is not dict
    ):
        return None
    try:
        ts = datetime.fromisoformat(ts_text)
    except ValueError:
        return None
    if ts.tzinfo is None or ts.utcoffset() is None or not EARLIEST <= ts <= latest:
        return None
    if kind == EventType.READING:
        values = _plain_values(data)
        if values is None:
            return None
        return device, event_id, kind, ts, data, values
    if kind == EventType.HEARTBEAT and not data:
        return device, event_id, kind, ts, data, None
    return None


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
    cleaned: list[Checked] = []
    errors = []
    latest = latest_accepted()
    for index, raw in enumerate(raw_events):
        # a NUL may hide anywhere: then every event is looked at closely
        plain = None if may_hold_nul else _plain_event(raw, latest)
        if plain is not None:
            cleaned.append(plain)
            continue
        event_errors_found, event = event_errors(raw, check_nul=may_hold_nul, latest=latest)
        if event_errors_found:
            event_ref = raw.get("id") if isinstance(raw, dict) else None
            errors.append({"index": index, "id": event_ref, "errors": event_errors_found})
        elif event is not None:
            cleaned.append(
                (event["device"], event["id"], event["type"], event["ts"], event["data"], None)
            )
    if errors:
        raise IngestRejected(
            400,
            f"{len(errors)} of {len(raw_events)} events are invalid; nothing was stored.",
            errors=errors[:100],
        )
    known = _devices_allowed({event[0] for event in cleaned}, principal)
    return [
        ParsedEvent(known[device]["id"], device, event_id, kind, ts, data, values)
        for device, event_id, kind, ts, data, values in cleaned
    ]


def _devices_allowed(codes: set[str], principal: Principal) -> Mapping[str, Mapping[str, Any]]:
    """The devices ``codes`` by code (their id), once all are known and ``principal`` may
    push for each of them; IngestRejected (403) names the others."""
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
    return known
