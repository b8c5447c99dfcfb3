"""The alerts of the demo's month as the rules raised them and staff handled them: each
alert with the moment its condition cleared and the steps people took, settled into the
row ``ioc.services.alerts`` would have left, with the audit entries of those steps."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import translation
from django.utils.translation import gettext as _

from cameras.choices import DeviceKind
from cameras.models import Device, SensorThreshold
from cameras.services.ingest.alert_texts import (
    TITLE_DETECTION,
    TITLE_FAULT,
    TITLE_THRESHOLD,
    alert_title,
)
from cameras.services.ingest.rules import DETECTION_SEVERITY
from ioc.choices import AlertKind, AlertStatus, Severity
from ioc.demo.month_readings import Breach
from ioc.models import Alert, AuditEntry, User
from ioc.services.audit import audit_entry


def in_platform_language(text: Callable[[], str]) -> str:
    """A text of a service, as it stores it on the demo's installation (in Vietnamese)."""
    with translation.override(settings.LANGUAGE_CODE):
        return text()


@dataclass
class Step:
    """A staff member's step on an alert: when, who, and the note they wrote."""

    at: datetime
    actor: User
    note: str = ""


@dataclass
class AlertPlan:
    """One alert of the month: the row as raised, when its condition cleared (None: it has
    not), and who acknowledged or resolved it by hand."""

    alert: Alert
    ends: datetime | None
    acknowledged: Step | None = None
    resolved: Step | None = None

    def active_at(self, moment: datetime) -> bool:
        """Whether nobody had acknowledged or resolved it yet at ``moment``, nor had it
        cleared: what an acknowledgement needs."""
        return (
            self.alert.raised_at <= moment
            and (self.acknowledged is None or moment < self.acknowledged.at)
            and self.open_at(moment)
        )

    def open_at(self, moment: datetime) -> bool:
        """Whether it was still open at ``moment``."""
        return (
            self.alert.raised_at <= moment
            and (self.ends is None or moment < self.ends)
            and (self.resolved is None or moment < self.resolved.at)
        )

    def settle(self, now: datetime) -> Alert:
        """The row as the services left it at ``now``: acknowledged (``alert_acknowledge``),
        resolved by hand (``alert_resolve``) or cleared by the rules (``alert_clear``)."""
        alert = self.alert
        if self.acknowledged is not None:
            alert.status = AlertStatus.ACKNOWLEDGED
            alert.acknowledged_at = self.acknowledged.at
            alert.acknowledged_by = self.acknowledged.actor
            alert.note = self.acknowledged.note
        if self.resolved is not None:
            alert.status = AlertStatus.RESOLVED
            alert.resolved_at = self.resolved.at
            alert.resolved_by = self.resolved.actor
            alert.note = self.resolved.note
        elif self.ends is not None and self.ends <= now:
            alert.status = AlertStatus.RESOLVED
            alert.resolved_at = self.ends
            alert.auto_cleared = True
        return alert

    def audits(self) -> list[AuditEntry]:
        """The audit entries of the staff steps (the alert saved)."""
        entries = []
        before = AlertStatus.ACTIVE
        for step, status in (
            (self.acknowledged, AlertStatus.ACKNOWLEDGED),
            (self.resolved, AlertStatus.RESOLVED),
        ):
            if step is None:
                continue
            entry = audit_entry(
                actor=step.actor,
                action=f"alert.{status}",
                obj=self.alert,
                before={"status": before},
                after={"status": status},
                ward_code=self.alert.ward.code,
                reason=step.note,
            )
            entry.at = step.at
            entries.append(entry)
            before = status
        return entries


def raised(
    device: Device,
    *,
    kind: AlertKind,
    cause: str,
    severity: str,
    title: str,
    at: datetime,
    data: dict[str, Any],
) -> Alert:
    """An alert as ``alert_raise`` creates it, not yet saved."""
    return Alert(
        ward=device.ward,
        device=device,
        kind=kind,
        cause=cause[:80],
        severity=severity,
        title=title[:200],
        raised_at=at,
        last_seen_at=at,
        data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),  # times as ISO text
    )


def offline_alert(device: Device, *, at: datetime, last_seen: datetime) -> Alert:
    """The offline sweep's alert (``devices_offline_sweep``)."""

    def title() -> str:
        return _("%(device)s is offline") % {"device": device.name}

    with translation.override("vi"):  # as the sweep writes it
        text = title()
    return raised(
        device,
        kind=AlertKind.OFFLINE,
        cause="offline",
        severity=Severity.WARNING,
        title=text,
        at=at,
        data={"last_seen_at": last_seen},
    )


def fault_alert(device: Device, *, at: datetime, code: str, message: str) -> Alert:
    """A fault report's alert (``rules.fault_apply``)."""
    return raised(
        device,
        kind=AlertKind.FAULT,
        cause=f"fault:{code}",
        severity=Severity.CRITICAL if device.kind == DeviceKind.SIGNAL else Severity.WARNING,
        title=alert_title(TITLE_FAULT, code=code, device=device.name),
        at=at,
        data={"code": code, "message": message},
    )


def detection_alert(device: Device, *, at: datetime, what: str, confidence: float) -> Alert:
    """A camera detection's alert (``rules.detection_apply``)."""
    return raised(
        device,
        kind=AlertKind.DETECTION,
        cause=f"detection:{what}",
        severity=DETECTION_SEVERITY.get(what, Severity.WARNING),
        title=alert_title(TITLE_DETECTION, what=what, device=device.name),
        at=at,
        data={"kind": what, "confidence": confidence},
    )


def threshold_alert(device: Device, threshold: SensorThreshold, breach: Breach) -> AlertPlan:
    """A breach's alert (``rules.thresholds_apply``): raised at the reading that made the
    tolerance, refreshed by every later breaching reading, cleared by the first back."""
    limit = (
        threshold.high
        if threshold.high is not None and breach.raised_value > threshold.high
        else threshold.low
    )
    alert = raised(
        device,
        kind=AlertKind.THRESHOLD,
        cause=f"threshold:{threshold.metric}",
        severity=threshold.severity,
        title=alert_title(
            TITLE_THRESHOLD,
            metric=threshold.metric,
            value=f"{breach.raised_value:g}",
            unit=threshold.unit,
            device=device.name,
            limit=f"{limit:g}" if limit is not None else "",
        ),
        at=breach.raised_at,
        data={"metric": threshold.metric, "value": breach.last_value, "limit": limit},
    )
    alert.last_seen_at = breach.last_at
    alert.occurrences = breach.occurrences
    return AlertPlan(alert=alert, ends=breach.cleared_at)
