"""Core models: administrative units, departments, staff accounts, alerts and the audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ioc.choices import AlertKind, AlertStatus, Role, Severity, WardKind


class WardQuerySet(models.QuerySet["Ward"]):
    """Queries over wards."""

    def current(self, on: Any = None) -> WardQuerySet:
        """Wards in force on a date (default today): merged or retired wards drop out."""
        day = on or timezone.localdate()
        return self.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=day)).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=day)
        )


class Ward(models.Model):
    """A commune-level unit (phường, xã, thị trấn) with its boundary.

    Wards are never deleted: a merger sets ``valid_to`` (and ``successor``) so that
    history keeps pointing at the unit that existed at the time.
    """

    code = models.CharField(_("code"), max_length=16, unique=True, help_text=_("Official code"))
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=WardKind.choices)
    parent_code = models.CharField(_("parent unit code"), max_length=16, blank=True)
    parent_name = models.CharField(_("parent unit"), max_length=120, blank=True)
    province_code = models.CharField(_("province code"), max_length=16, blank=True)
    province_name = models.CharField(_("province"), max_length=120, blank=True)
    boundary = models.JSONField(
        _("boundary"), null=True, blank=True, help_text=_("GeoJSON Polygon or MultiPolygon")
    )
    centroid_lat = models.DecimalField(_("centre latitude"), max_digits=9, decimal_places=6)
    centroid_lon = models.DecimalField(_("centre longitude"), max_digits=9, decimal_places=6)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid until"), null=True, blank=True)
    successor = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="predecessors",
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = WardQuerySet.as_manager()

    class Meta:
        verbose_name = _("ward")
        verbose_name_plural = _("wards")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        """The name as people write it, with its kind: "Phường Phan Đình Phùng"."""
        template = WARD_TITLES.get(WardKind(self.kind)) if self.kind in WardKind.values else None
        return str(template or "%(name)s") % {"name": self.name}


WARD_TITLES = {
    WardKind.PHUONG: _("%(name)s Ward"),
    WardKind.XA: _("%(name)s Commune"),
    WardKind.THI_TRAN: _("%(name)s Township"),
}


class Department(models.Model):
    """A city department (phòng ban) that works citizen requests in its field."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A staff account. Citizens never need one; the portal is anonymous."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices, blank=True)
    wards = models.ManyToManyField(
        Ward, verbose_name=_("wards"), blank=True, related_name="officials"
    )
    departments = models.ManyToManyField(
        Department, verbose_name=_("departments"), blank=True, related_name="staff"
    )

    class Meta:
        verbose_name = _("staff account")
        verbose_name_plural = _("staff accounts")

    def get_full_name(self) -> str:
        """Vietnamese order: family and middle names (last_name) before the given name."""
        return f"{self.last_name} {self.first_name}".strip()

    @property
    def has_city_scope(self) -> bool:
        """Whether this account sees every ward (administrators and city operators)."""
        return self.is_active and (
            self.is_superuser or self.role in {Role.ADMIN, Role.CITY_OPERATOR}
        )

    @property
    def is_staff_role(self) -> bool:
        """Whether this account may use the staff side (``/ops/``) at all."""
        return self.is_active and (self.is_superuser or bool(self.role))


class AuditEntry(models.Model):
    """One staff or system write: who, what, when, on which object, before and after."""

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    actor_label = models.CharField(
        _("actor label"), max_length=150, help_text=_("Username, or the command or task")
    )
    action = models.CharField(_("action"), max_length=80, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80)
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=200)
    ward_code = models.CharField(_("ward"), max_length=16, blank=True, db_index=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"


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


class TimelineEntry(models.Model):
    """One line of a case's timeline (an incident's, a citizen request's): a note or a
    recorded action, never edited. Each case's model adds its parent and its own kinds."""

    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=16)
    text = models.TextField(_("text"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        abstract = True
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"
