"""Reorganisations of administrative units (a plan of new units and the mapping from the
old ones, applied on its effective day) and the officials' scopes a split leaves to review."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ioc.choices import ReorganisationState
from ioc.models.units import Ward


class Reorganisation(models.Model):
    """A reorganisation of units: the new units (``plan``, a GeoJSON FeatureCollection),
    which old unit goes wholly or in part into which new one (``mapping``, the CSV as
    given) and from when (``effective``, the first day of the new units).

    Applied at once when its day has come, otherwise by the beat at midnight of that day
    (``ioc.tasks.reorganisations_due_task``); the checks run again when it is applied.
    ``report`` is what it moved (or would move), or why it could not be applied.
    """

    effective = models.DateField(_("effective"), help_text=_("The first day of the new units"))
    plan = models.JSONField(_("plan"), help_text=_("The new units, as GeoJSON"))
    mapping = models.TextField(_("mapping"), help_text=_("old_code,new_code,transfer (CSV)"))
    # The plan, mapping and day together: the same reorganisation submitted again is found.
    digest = models.CharField(_("digest"), max_length=64, db_index=True)
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=ReorganisationState.choices,
        default=ReorganisationState.DRAFT,
    )
    report = models.JSONField(_("report"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_label = models.CharField(
        _("submitted through"), max_length=150, blank=True, help_text=_("Username, or the command")
    )
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reorganisation")
        verbose_name_plural = _("reorganisations")
        ordering = ["-effective", "-id"]
        indexes = [models.Index(fields=["state", "effective"], name="reorganisation_due")]

    def __str__(self) -> str:
        codes = ", ".join(unit.get("code", "") for unit in self.report.get("units", []))
        return f"{self.effective:%d/%m/%Y} {codes}".strip()


class ScopeReview(models.Model):
    """An official whose unit was split: they now have every unit it went into, until
    someone decides which to keep (flagged in the admin's staff accounts)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff account"),
        on_delete=models.CASCADE,
        related_name="scope_reviews",
    )
    reorganisation = models.ForeignKey(
        Reorganisation,
        verbose_name=_("reorganisation"),
        on_delete=models.PROTECT,
        related_name="scope_reviews",
    )
    former = models.ForeignKey(
        Ward, verbose_name=_("split unit"), on_delete=models.PROTECT, related_name="+"
    )
    units = models.ManyToManyField(Ward, verbose_name=_("units given"), related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("scope to review")
        verbose_name_plural = _("scopes to review")
        ordering = ["reviewed_at", "-created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "former"], name="scope_review_once")]

    def __str__(self) -> str:
        return f"{self.user} ← {self.former}"
