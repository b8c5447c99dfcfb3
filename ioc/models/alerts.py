"""Alerts: what a rule raised and an operator must look at."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ioc.choices import AlertKind, AlertStatus, Severity
from ioc.models.units import Ward


class Alert(models.Model):
    """Something an operator must look at, raised by a rule; one open alert per device and
    cause (a repeated breach refreshes it instead of raising another)."""

    ward = models.ForeignKey(Ward, verbose_name=_("ward"), on_delete=models.PROTECT)
    device = models.ForeignKey(
        "cameras.Device",
        verbose_name=_("device"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=AlertKind.choices)
    cause = models.CharField(
        _("cause"), max_length=80, help_text=_("e.g. offline, threshold:pm25, detection:fire")
    )
    severity = models.CharField(_("severity"), max_length=12, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.ACTIVE
    )
    title = models.CharField(_("title"), max_length=200)
    data = models.JSONField(_("data"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    occurrences = models.PositiveIntegerField(_("occurrences"), default=1)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_alerts",
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    auto_cleared = models.BooleanField(_("cleared by itself"), default=False)
    note = models.TextField(_("note"), blank=True)
    incident = models.ForeignKey(
        "ioc.Incident",
        verbose_name=_("incident"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "cause"],
                condition=~Q(status=AlertStatus.RESOLVED),
                name="one_open_alert_per_device_cause",
            )
        ]
        indexes = [
            models.Index(fields=["ward", "status"], name="alert_ward_status"),
            # The open alerts, newest first (feed, snapshot, KPIs), whatever the history.
            models.Index(
                fields=["-raised_at", "-id"],
                condition=~Q(status=AlertStatus.RESOLVED),
                name="alert_open_recent",
            ),
        ]

    def __str__(self) -> str:
        return self.title
