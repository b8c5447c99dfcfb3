"""A month of the demo sensors' readings, stepped from the simulator's own models
(``cameras.simulator.model``: the live feed goes on with the same walk and the same day),
and the threshold breaches the ingest rules would have found in them."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection

from cameras.models import Device, Reading, SensorThreshold
from cameras.services.ingest.copy import readings_append
from cameras.simulator.model import AirSensor, DeviceSpec, WaterGauge, sensor_role

# The device page charts the last day in 288 five-minute buckets (the side panel six
# hours): one reading a bucket fills it. Before the last two days, a reading every quarter
# of an hour still fills every bucket of the readings API's longest series of a month
# (2,000 points, 21.6 minutes each); the month is then about 130,000 rows for the demo's
# sensors instead of 345,000 (and 2 s of the demo's load on SQLite instead of 5).
STEP = timedelta(minutes=5)
FINE = timedelta(days=2)
COARSE_STEP = timedelta(minutes=15)
DAYS = 30
# One reading row as the ingest path writes it: (device id, metric, time, value).
ReadingRow = tuple[int, str, datetime, float]
# An interval of time, [start, end).
Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class Breach:
    """One threshold alert that ``thresholds_apply`` would have raised from a series: when
    and at which value, its last refresh, how many readings raised or refreshed it, and the
    reading that cleared it (None: still open)."""

    metric: str
    raised_at: datetime
    raised_value: float
    last_at: datetime
    last_value: float
    occurrences: int
    cleared_at: datetime | None


@dataclass
class SensorMonth:
    """What one sensor reported over the month, and what its thresholds made of it."""

    device: Device
    rows: list[ReadingRow] = field(default_factory=list)
    latest: dict[str, float] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    # The start of a breach still running at the last reading, per metric (the
    # threshold's ``breach_since``), when there is one.
    breach_since: dict[str, datetime] = field(default_factory=dict)


def breaches_in(
    series: list[tuple[datetime, float]], threshold: SensorThreshold
) -> tuple[list[Breach], datetime | None]:
    """The rules' walk (``cameras.services.ingest.rules.thresholds_apply``) over one metric's
    readings in time order: a breach that lasts the threshold's tolerance raises an alert,
    later breaching readings refresh it, the first reading back within the limits clears
    it. Returns the alerts and the start of a breach still running at the end."""
    breaches: list[Breach] = []
    since: datetime | None = None
    raised: tuple[datetime, float] | None = None
    last: tuple[datetime, float] | None = None
    count = 0
    for ts, value in series:
        high, low = threshold.high, threshold.low
        if not ((high is not None and value > high) or (low is not None and value < low)):
            if raised is not None and last is not None:
                breaches.append(Breach(threshold.metric, *raised, *last, count, ts))
            since, raised, count = None, None, 0
            continue
        since = since or ts
        if (ts - since).total_seconds() >= threshold.tolerance_seconds:
            raised = raised or (ts, value)
            last, count = (ts, value), count + 1
    if raised is not None and last is not None:
        breaches.append(Breach(threshold.metric, *raised, *last, count, None))
    return breaches, since


def sensor_model(
    device: Device, *, rng: random.Random, start: float
) -> AirSensor | WaterGauge | None:
    """The simulator's model of this sensor (None for a sensor it has no model for), with
    no episode of its own: the month schedules them."""
    spec = DeviceSpec(device.code, device.kind, "", device.heartbeat_seconds)
    role = sensor_role(spec)
    interval = STEP.total_seconds()  # unused: the month steps the model itself
    if role == "air":
        air = AirSensor(spec, rng, start, interval)
        air.episode_every = math.inf
        return air
    if role == "water":
        water = WaterGauge(spec, rng, start, interval)
        water.flood_every = math.inf
        return water
    return None


def month_times(*, end: datetime, now: datetime) -> list[datetime]:
    """When a sensor whose last report was at ``end`` reported over the month, oldest
    first: every ``STEP`` in the last ``FINE``, every ``COARSE_STEP`` before."""
    fine = int(FINE / STEP)
    coarse = int((end - FINE - (now - timedelta(days=DAYS))) / COARSE_STEP)
    older = [end - FINE - COARSE_STEP * n for n in range(coarse, 0, -1)]
    return older + [end - STEP * n for n in range(fine, -1, -1)]


def sensor_month(
    device: Device,
    *,
    rng: random.Random,
    now: datetime,
    silent: list[Window],
    episodes: list[tuple[datetime, float]],
    thresholds: list[SensorThreshold],
) -> SensorMonth:
    """A sensor's readings over the month up to its last report (``last_seen_at``), none
    while it was silent, with pollution episodes or floods at ``episodes`` (start,
    seconds); its threshold breaches."""
    month = SensorMonth(device=device)
    times = month_times(end=min(device.last_seen_at or now, now), now=now)
    model = sensor_model(device, rng=rng, start=times[0].timestamp())
    if model is None:
        return month
    start_episode = model.start_episode if isinstance(model, AirSensor) else model.start_flood
    pending = sorted(episodes)
    series: dict[str, list[tuple[datetime, float]]] = {}
    previous = times[0].timestamp() - COARSE_STEP.total_seconds()
    for ts in times:
        moment = ts.timestamp()
        while pending and pending[0][0] <= ts:
            start_episode(moment, pending.pop(0)[1])
        model.advance(moment, moment - previous)  # the air and the river go on in silence
        previous = moment
        if any(a <= ts < b for a, b in silent):
            continue
        values = model.reading()
        for metric, value in values.items():
            series.setdefault(metric, []).append((ts, value))
        month.latest = values
    for metric, points in series.items():  # by metric: the index's order
        month.rows += [(device.pk, metric, ts, value) for ts, value in points]
    for threshold in thresholds:
        found, since = breaches_in(series.get(threshold.metric, []), threshold)
        month.breaches += found
        if since is not None:
            month.breach_since[threshold.metric] = since
    return month


def readings_write(rows: list[ReadingRow]) -> int:
    """Append the month's readings: the ingest path's COPY on PostgreSQL; on SQLite one
    prepared INSERT run over every row (``bulk_create`` builds a model instance and a
    statement per thousand rows: several times as long for the month's rows)."""
    if connection.vendor == "postgresql":
        readings_append([(device, ts, "", {metric: value}) for device, metric, ts, value in rows])
        return len(rows)
    table = connection.ops.quote_name(Reading._meta.db_table)
    stamps: dict[datetime, str] = {}  # the metrics of one reading share its time

    def stamp(ts: datetime) -> str:
        text = stamps.get(ts)
        if text is None:
            # As Django's SQLite backend stores a time: UTC, without its offset.
            text = stamps[ts] = str(ts.astimezone(UTC).replace(tzinfo=None))
        return text

    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (device_id, metric, ts, value) VALUES (%s, %s, %s, %s)",  # noqa: S608
            [(device, metric, stamp(ts), value) for device, metric, ts, value in rows],
        )
    return len(rows)
