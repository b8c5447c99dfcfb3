"""Choice lists of the core."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a staff account may do; scoping follows from it (see ioc.selectors)."""

    ADMIN = "admin", _("Administrator")
    CITY_OPERATOR = "city_operator", _("Centre operator")
    WARD_OFFICIAL = "ward_official", _("Ward official")
    DEPARTMENT_STAFF = "department_staff", _("Department staff")


class WardKind(models.TextChoices):
    """Kinds of commune-level administrative unit: phường, xã and đặc khu since July 2025;
    thị trấn only before (the reform made them communes or wards)."""

    PHUONG = "phuong", _("Ward (phường)")
    XA = "xa", _("Commune (xã)")
    DAC_KHU = "dac_khu", _("Special zone (đặc khu)")
    THI_TRAN = "thi_tran", _("Township (thị trấn)")


class Severity(models.TextChoices):
    """How urgent an alert or incident is."""

    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class AlertKind(models.TextChoices):
    """What raised an alert."""

    THRESHOLD = "threshold", _("Threshold breach")
    OFFLINE = "offline", _("Device offline")
    FAULT = "fault", _("Device fault")
    DETECTION = "detection", _("Camera detection")
    SIGNAL_COMMAND = "signal_command", _("Signal command")
    DEADLINE = "deadline", _("Request deadline")


class AlertStatus(models.TextChoices):
    """Life of an alert."""

    ACTIVE = "active", _("Active")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class IncidentStatus(models.TextChoices):
    """Life of an incident: open, someone works it, it is dealt with, it is closed."""

    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class IncidentEntryKind(models.TextChoices):
    """What one line of an incident's timeline records."""

    CREATED = "created", _("Opened")
    NOTE = "note", _("Note")
    STATUS = "status", _("Status changed")
    ASSIGNED = "assigned", _("Assigned")
    SEVERITY = "severity", _("Severity changed")
    LINKED = "linked", _("Linked")
    UNLINKED = "unlinked", _("Unlinked")
    CHECKLIST = "checklist", _("Checklist")
    MOVED = "moved", _("Moved to another unit")


class ReorganisationState(models.TextChoices):
    """Life of a reorganisation: checked (a dry run stored, not yet confirmed), scheduled
    for its effective day, applied; failed (its checks no longer passed on the day) or
    cancelled."""

    DRAFT = "draft", _("Checked, not confirmed")
    SCHEDULED = "scheduled", _("Scheduled")
    APPLIED = "applied", _("Applied")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
