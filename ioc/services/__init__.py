"""Writes of the core (house rule 2), one module per subject."""

from ioc.services.alerts import (
    alert_acknowledge,
    alert_assign,
    alert_clear,
    alert_raise,
    alert_resolve,
)
from ioc.services.core import (
    WardImportError,
    WardImportReport,
    audit_record,
    snapshot,
    staff_user_create,
    wards_import,
)

__all__ = [
    "WardImportError",
    "WardImportReport",
    "alert_acknowledge",
    "alert_assign",
    "alert_clear",
    "alert_raise",
    "alert_resolve",
    "audit_record",
    "snapshot",
    "staff_user_create",
    "wards_import",
]
