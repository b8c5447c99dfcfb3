"""Models of the core: wards, staff, alerts and the audit log (core), incidents (incidents)."""

from ioc.models.core import (
    WARD_TITLES,
    Alert,
    AuditEntry,
    Department,
    TimelineEntry,
    User,
    Ward,
    WardQuerySet,
)
from ioc.models.incidents import (
    Incident,
    IncidentChecklistItem,
    IncidentEntry,
    IncidentType,
    IncidentTypeStep,
)

__all__ = [
    "WARD_TITLES",
    "Alert",
    "AuditEntry",
    "Department",
    "Incident",
    "IncidentChecklistItem",
    "IncidentEntry",
    "IncidentType",
    "IncidentTypeStep",
    "TimelineEntry",
    "User",
    "Ward",
    "WardQuerySet",
]
