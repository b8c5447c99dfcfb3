"""Celery tasks of the core (thin: each calls one function)."""

from datetime import date

from celery import shared_task

from ioc import realtime, selectors


@shared_task(ignore_result=True)
def realtime_heartbeat_task() -> int:
    """Send the periodic heartbeat through every live group (see ioc.realtime.heartbeat)."""
    return realtime.heartbeat(selectors.current_ward_codes(), selectors.current_department_codes())


@shared_task(ignore_result=True)
def reorganisations_due_task(today: str | None = None) -> list[int]:
    """Apply the reorganisations whose day has come (the beat, at midnight in Vietnam);
    ``today`` (YYYY-MM-DD) stands in for the date, to run a day's work by hand."""
    from ioc.services.reorganisation import reorganisations_apply_due

    return reorganisations_apply_due(today=date.fromisoformat(today) if today else None)


@shared_task(ignore_result=True)
def audit_prune_task() -> int:
    """Export, then delete, the audit log's months past IOC_AUDIT_RETENTION_DAYS (the
    beat, hourly; a month goes once); the number of entries deleted."""
    from ioc.services.audit_retention import audit_prune_due

    return sum(export.deleted for export in audit_prune_due())
