"""Administrative units (wards and communes, with their lifetimes) and departments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from ioc.choices import WardKind


class WardQuerySet(models.QuerySet["Ward"]):
    """Queries over wards."""

    def current(self, on: Any = None) -> WardQuerySet:
        """Units in force on a date (default today, in Asia/Ho_Chi_Minh): units merged or
        retired before it, or created after it, drop out. ``valid_to`` is the first day
        a unit is no longer in force."""
        day = on or timezone.localdate()
        return self.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=day)).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=day)
        )


class Ward(models.Model):
    """A commune-level unit (phường, xã, đặc khu; thị trấn before July 2025) with its
    boundary and its lifetime.

    A unit's identity is the row, not its code: a code is unique among the units in force
    on a day, and the 2025 reform gave old codes to new units (05443 was Phường Trưng
    Vương until 30/06/2025 and is Phường Phan Đình Phùng since). Units are never deleted:
    a reorganisation ends a unit (``valid_to``) and links it to the units it went into
    (``WardSuccession``), so that history keeps pointing at the unit of its time.
    """

    code = models.CharField(_("code"), max_length=16, db_index=True, help_text=_("Official code"))
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=WardKind.choices)
    # The district of a unit from before July 2025 (there are none since).
    parent_code = models.CharField(_("district code"), max_length=16, blank=True)
    parent_name = models.CharField(_("district"), max_length=120, blank=True)
    province_code = models.CharField(_("province code"), max_length=16, blank=True)
    province_name = models.CharField(_("province"), max_length=120, blank=True)
    boundary = models.JSONField(
        _("boundary"), null=True, blank=True, help_text=_("GeoJSON Polygon or MultiPolygon")
    )
    # A point inside the boundary (None while the unit has no boundary yet).
    centroid_lat = models.DecimalField(
        _("centre latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    centroid_lon = models.DecimalField(
        _("centre longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    valid_from = models.DateField(_("in force from"), null=True, blank=True)
    valid_to = models.DateField(
        _("in force until"),
        null=True,
        blank=True,
        help_text=_("The first day the unit is no longer in force"),
    )
    successors = models.ManyToManyField(
        "self",
        through="WardSuccession",
        symmetrical=False,
        related_name="predecessors",
        verbose_name=_("went into"),
        blank=True,
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = WardQuerySet.as_manager()

    class Meta:
        verbose_name = _("ward")
        verbose_name_plural = _("wards")
        ordering = ["name"]
        constraints = [
            # Two units in force with no end date may not share a code; overlapping closed
            # periods are refused by the services that write units (wards_import,
            # reorganise), which can say which units collide.
            models.UniqueConstraint(
                fields=["code"], condition=Q(valid_to__isnull=True), name="ward_code_open"
            ),
            models.UniqueConstraint(fields=["code", "valid_from"], name="ward_code_from"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_to__isnull=True)
                | Q(valid_to__gt=F("valid_from")),
                name="ward_valid_period",
            ),
        ]

    def __str__(self) -> str:
        """The title, and for a unit not in force today its period, so that two units of
        one name (a former unit and its successor) can be told apart in a list: "Phường
        Phan Đình Phùng (đến 30/06/2025)"."""
        today = timezone.localdate()
        if self.valid_to is not None and self.valid_to <= today:
            last = self.valid_to - timedelta(days=1)
            return _("%(title)s (until %(day)s)") % {
                "title": self.title,
                "day": date_format(last, "SHORT_DATE_FORMAT"),
            }
        if self.valid_from is not None and self.valid_from > today:
            return _("%(title)s (from %(day)s)") % {
                "title": self.title,
                "day": date_format(self.valid_from, "SHORT_DATE_FORMAT"),
            }
        return self.title

    @property
    def title(self) -> str:
        """The name as people write it, with its kind: "Phường Phan Đình Phùng"."""
        template = WARD_TITLES.get(WardKind(self.kind)) if self.kind in WardKind.values else None
        return str(template or "%(name)s") % {"name": self.name}

    def in_force(self, on: Any = None) -> bool:
        """Whether the unit is in force on ``on`` (default today)."""
        day = on or timezone.localdate()
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day < self.valid_to
        )


WARD_TITLES = {
    WardKind.PHUONG: _("%(name)s Ward"),
    WardKind.XA: _("%(name)s Commune"),
    WardKind.DAC_KHU: _("%(name)s Special Zone"),
    WardKind.THI_TRAN: _("%(name)s Township"),
}


class Transfer(models.TextChoices):
    """How much of a unit went into one of its successors."""

    WHOLE = "whole", _("whole")
    PART = "part", _("part")


class WardSuccession(models.Model):
    """One edge of a reorganisation: ``predecessor`` (ending the day before ``effective``)
    went, wholly or in part, into ``successor``. A merger is several edges to one
    successor; a split, several edges from one predecessor, each ``part``."""

    predecessor = models.ForeignKey(
        Ward,
        verbose_name=_("former unit"),
        on_delete=models.PROTECT,
        related_name="succession_to",
    )
    successor = models.ForeignKey(
        Ward, verbose_name=_("new unit"), on_delete=models.PROTECT, related_name="succession_from"
    )
    transfer = models.CharField(_("transfer"), max_length=8, choices=Transfer.choices)
    effective = models.DateField(_("effective"))

    class Meta:
        verbose_name = _("unit succession")
        verbose_name_plural = _("unit successions")
        ordering = ["effective", "predecessor__code", "successor__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["predecessor", "successor"], name="ward_succession_once"
            ),
            models.CheckConstraint(
                condition=~Q(predecessor=F("successor")), name="ward_succession_not_self"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.predecessor.code} → {self.successor.code} ({self.transfer}, {self.effective})"
        )


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
