"""Models of the core, one module per subject: units, accounts, alerts, audit, incidents,
reorganisations."""

from ioc.models.accounts import User
from ioc.models.alerts import Alert
from ioc.models.audit import AuditEntry, TimelineEntry
from ioc.models.incidents import (
    Incident,
    IncidentChecklistItem,
    IncidentEntry,
    IncidentType,
    IncidentTypeStep,
)
from ioc.models.reorganisations import Reorganisation, ScopeReview
from ioc.models.units import (
    WARD_TITLES,
    Department,
    Transfer,
    Ward,
    WardQuerySet,
    WardSuccession,
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
    "Reorganisation",
    "ScopeReview",
    "TimelineEntry",
    "Transfer",
    "User",
    "Ward",
    "WardQuerySet",
    "WardSuccession",
]
