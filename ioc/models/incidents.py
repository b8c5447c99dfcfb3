"""Incidents: the operational case that links alerts (and citizen requests) about one event.

An incident has a type whose standard steps (configured by the administrator) become the
incident's checklist, a timeline of everything done, and it lives in one ward.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ioc.choices import IncidentEntryKind, IncidentStatus, Severity
from ioc.models.audit import TimelineEntry
from ioc.models.units import Ward

OPEN_STATUSES = (IncidentStatus.OPEN, IncidentStatus.IN_PROGRESS)


class IncidentType(models.Model):
    """A kind of incident (traffic accident, flooding, fire…) with its standard steps."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    default_severity = models.CharField(
        _("default severity"), max_length=12, choices=Severity.choices, default=Severity.WARNING
    )
    alert_causes = models.JSONField(
        _("alert causes"),
        default=list,
        blank=True,
        help_text=_(
            "Alert causes that suggest this type, e.g. detection:fire or threshold:water_level "
            "(a cause that ends with : matches every cause starting with it)"
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("incident type")
        verbose_name_plural = _("incident types")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def matches_cause(self, cause: str) -> bool:
        """Whether an alert with ``cause`` suggests this type."""
        return any(
            cause.startswith(item) if item.endswith(":") else cause == item
            for item in self.alert_causes or []
        )


class IncidentTypeStep(models.Model):
    """One standard step of an incident type; copied into each new incident's checklist."""

    incident_type = models.ForeignKey(
        IncidentType,
        verbose_name=_("incident type"),
        on_delete=models.CASCADE,
        related_name="steps",
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    text = models.CharField(_("step"), max_length=200)

    class Meta:
        verbose_name = _("standard step")
        verbose_name_plural = _("standard steps")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class Incident(models.Model):
    """An operational case in one ward: what happened, where, who works it, how far along."""

    incident_type = models.ForeignKey(
        IncidentType, verbose_name=_("type"), on_delete=models.PROTECT, related_name="incidents"
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    severity = models.CharField(_("severity"), max_length=12, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    ward = models.ForeignKey(Ward, verbose_name=_("ward"), on_delete=models.PROTECT)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    address = models.CharField(_("place"), max_length=200, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_incidents",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("opened at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["ward", "status"], name="incident_ward_status")]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        """The code people quote on the phone: SC-<year>-<number> (sự cố)."""
        return f"SC-{timezone.localtime(self.created_at).year}-{self.pk or 0:06d}"

    @property
    def is_open(self) -> bool:
        """Whether someone still has to act on it."""
        return self.status in OPEN_STATUSES


class IncidentChecklistItem(models.Model):
    """One step of an incident's checklist, ticked off by a named person."""

    incident = models.ForeignKey(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="checklist"
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    text = models.CharField(_("step"), max_length=200)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("done by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("checklist step")
        verbose_name_plural = _("checklist")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class IncidentEntry(TimelineEntry):
    """One line of an incident's timeline: a note or a recorded action, never edited."""

    incident = models.ForeignKey(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="timeline"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=IncidentEntryKind.choices)

    class Meta(TimelineEntry.Meta):
        pass

    @property
    def change(self) -> str:
        """A status or severity change as people read it: "Mở → Đã xử lý"."""
        if self.kind == IncidentEntryKind.STATUS:
            labels = dict(IncidentStatus.choices)
        elif self.kind == IncidentEntryKind.SEVERITY:
            labels = dict(Severity.choices)
        else:
            return ""
        before = self.data.get("from") or self.data.get("severity", "")
        after = self.data.get("to", "")
        return f"{labels.get(before, before)} → {labels.get(after, after)}"
