"""Writes of the core (house rule 2), one module per subject."""

from ioc.services.alerts import (
    alert_acknowledge,
    alert_assign,
    alert_clear,
    alert_raise,
    alert_resolve,
)
from ioc.services.audit import audit_record, snapshot
from ioc.services.incidents import (
    incident_assign,
    incident_checklist_set,
    incident_create,
    incident_create_from_alert,
    incident_link_alert,
    incident_note_add,
    incident_severity_set,
    incident_status_set,
    incident_unlink_alert,
)
from ioc.services.province import ProvinceLoadError, ProvinceLoadReport, province_load
from ioc.services.staff import staff_user_create
from ioc.services.wards import WardImportError, WardImportReport, wards_import

__all__ = [
    "ProvinceLoadError",
    "ProvinceLoadReport",
    "WardImportError",
    "WardImportReport",
    "alert_acknowledge",
    "alert_assign",
    "alert_clear",
    "alert_raise",
    "alert_resolve",
    "audit_record",
    "incident_assign",
    "incident_checklist_set",
    "incident_create",
    "incident_create_from_alert",
    "incident_link_alert",
    "incident_note_add",
    "incident_severity_set",
    "incident_status_set",
    "incident_unlink_alert",
    "province_load",
    "snapshot",
    "staff_user_create",
    "wards_import",
]
