"""The device registry: every camera, sensor and traffic signal on the map."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from cameras.choices import DeviceKind, DeviceStatus
from ioc.models import Ward


class Device(models.Model):
    """A camera, sensor or traffic signal, placed in a ward at a WGS84 point."""

    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=DeviceKind.choices)
    ward = models.ForeignKey(
        Ward, verbose_name=_("ward"), on_delete=models.PROTECT, related_name="devices"
    )
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    address = models.CharField(_("address"), max_length=255, blank=True)
    vendor = models.CharField(_("vendor"), max_length=100, blank=True)
    model_name = models.CharField(_("model"), max_length=100, blank=True)
    installed_on = models.DateField(_("installed on"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.OFFLINE
    )
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["latitude", "longitude"], name="device_lat_lon"),
            models.Index(fields=["ward", "kind", "status"], name="device_ward_kind_status"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
