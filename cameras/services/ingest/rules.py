"""The rules a report meets: threshold breaches, camera detections and device faults raise
and clear alerts; a device heard from again clears its offline alert. A rule that may raise
returns how many alerts it raised."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from cameras.choices import DeviceKind
from cameras.models import Device, SensorThreshold
from cameras.services.ingest.alert_texts import (
    TITLE_DETECTION,
    TITLE_FAULT,
    TITLE_THRESHOLD,
    alert_title,
)
from ioc.choices import AlertKind, AlertStatus, Severity
from ioc.models import Alert
from ioc.services.alerts import alert_clear, alert_raise

DETECTION_SEVERITY = {
    "accident": Severity.CRITICAL,
    "fire": Severity.CRITICAL,
    "flooding": Severity.CRITICAL,
    "wrong_way": Severity.WARNING,
    "crowd": Severity.WARNING,
    "congestion": Severity.WARNING,
    "illegal_parking": Severity.INFO,
}


@dataclass
class Thresholds:
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
    def load(cls, device_ids: list[int]) -> Thresholds:
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
        """The rules' new ``breach_since`` in one statement (bulk_update's CASE per row cost
        the worker a tenth of its time when values hover around a limit)."""
        if not self.changed:
            return
        table = connection.ops.quote_name(SensorThreshold._meta.db_table)
        rows = [(rule.breach_since, pk) for pk, rule in self.changed.items()]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"UPDATE {table} AS t SET breach_since = v.since FROM unnest("  # noqa: S608
                    "%s::timestamptz[], %s::bigint[]) AS v(since, id) WHERE t.id = v.id",
                    [[since for since, _pk in rows], [pk for _since, pk in rows]],
                )
            else:
                moment = connection.ops.adapt_datetimefield_value
                cursor.executemany(
                    f"UPDATE {table} SET breach_since = %s WHERE id = %s",  # noqa: S608
                    [(moment(since), pk) for since, pk in rows],
                )


def thresholds_apply(
    device: Device,
    state: Thresholds,
    values: dict[str, float],
    ts: datetime,
) -> int:
    """Threshold rules: a breach that lasts its tolerance raises; a return clears."""
    raised = 0
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
                title=alert_title(
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
            raised += int(created)
            state.open_alerts.add((device.pk, cause))
    return raised


def detection_apply(device: Device, data: dict[str, Any], ts: datetime) -> int:
    """Camera detections (accident, flooding, fire, crowd, wrong way…) raise alerts."""
    what = str(data.get("kind") or data.get("class") or "unknown")[:40]
    cause = f"detection:{what}"
    if data.get("active") is False:
        alert_clear(device=device, cause=cause, at=ts)
        return 0
    severity = data.get("severity")
    if severity not in Severity.values:
        severity = DETECTION_SEVERITY.get(what, Severity.WARNING)
    _alert, created = alert_raise(
        ward=device.ward,
        device=device,
        kind=AlertKind.DETECTION,
        cause=cause,
        severity=Severity(severity),
        title=alert_title(TITLE_DETECTION, what=what, device=device.name),
        at=ts,
        data={
            key: value for key, value in data.items() if key in {"kind", "confidence", "snapshot"}
        },
    )
    return int(created)


def fault_apply(device: Device, data: dict[str, Any], ts: datetime) -> int:
    """Device faults (a signal's lamp failure, a camera's tampering…) raise alerts."""
    code = str(data.get("code") or "fault")[:40]
    cause = f"fault:{code}"
    if data.get("cleared"):
        alert_clear(device=device, cause=cause, at=ts)
        return 0
    _alert, created = alert_raise(
        ward=device.ward,
        device=device,
        kind=AlertKind.FAULT,
        cause=cause,
        severity=Severity.CRITICAL if device.kind == DeviceKind.SIGNAL else Severity.WARNING,
        title=alert_title(TITLE_FAULT, code=code, device=device.name),
        at=ts,
        data={"code": code, "message": str(data.get("message", ""))[:200]},
    )
    return int(created)


def offline_clear(device: Device, ts: datetime) -> None:
    """A device heard from again: its offline alert (raised by the sweep) clears."""
    alert_clear(device=device, cause="offline", at=ts)
