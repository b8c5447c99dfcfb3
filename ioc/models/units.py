"""Administrative units (wards and communes, with their lifetimes) and departments."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ioc.choices import WardKind


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
