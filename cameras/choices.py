"""Choice lists of the device registry."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DeviceKind(models.TextChoices):
    """What a device on the map is (DESIGN.md GeoJSON contract: camera, sensor, signal)."""

    CAMERA = "camera", _("Camera")
    SENSOR = "sensor", _("Sensor")
    SIGNAL = "signal", _("Traffic signal")


class DeviceStatus(models.TextChoices):
    """A device's operational state as last reported or set."""

    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("Offline")
    FAULT = "fault", _("Fault")
    MAINTENANCE = "maintenance", _("Maintenance")
