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


class EventType(models.TextChoices):
    """Kinds of event a device or gateway pushes (DESIGN.md ingest contract)."""

    HEARTBEAT = "heartbeat", _("Heartbeat")
    READING = "reading", _("Reading")
    STATUS = "status", _("Status")
    DETECTION = "detection", _("Detection")
    FAULT = "fault", _("Fault")


class StreamProtocol(models.TextChoices):
    """How a camera's video stream is served."""

    RTSP = "rtsp", "RTSP"
    HLS = "hls", "HLS"
    WEBRTC = "webrtc", "WebRTC"


class StreamQuality(models.TextChoices):
    """Which of a camera's streams a viewer watches: the full picture or the light one."""

    MAIN = "main", _("main stream")
    SUB = "sub", _("sub-stream")


class RecordingMode(models.TextChoices):
    """When a camera records."""

    CONTINUOUS = "continuous", _("Continuous")
    MOTION = "motion", _("On motion")
    OFF = "off", _("Not recording")


class SignalMode(models.TextChoices):
    """Operating mode of a traffic-signal controller."""

    AUTO = "auto", _("Automatic")
    MANUAL = "manual", _("Manual plan")
    FLASH = "flash", _("Flashing amber")
    OFF = "off", _("Off")


class CommStatus(models.TextChoices):
    """Whether the platform can talk to a controller."""

    OK = "ok", _("Connected")
    LOST = "lost", _("Connection lost")


class SignalAction(models.TextChoices):
    """What an operator can ask a traffic-signal controller to do."""

    SET_PLAN = "set_plan", _("Run a timing plan")
    FLASH = "flash", _("Flash amber")
    AUTO = "auto", _("Return to automatic")


class CommandStatus(models.TextChoices):
    """Life of a traffic-signal command."""

    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    ACTIVE = "active", _("Active")
    FAILED = "failed", _("Failed")
    REVERTED = "reverted", _("Reverted")
    CANCELLED = "cancelled", _("Cancelled")
