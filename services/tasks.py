"""Celery tasks of citizen services: thin wrappers around services (house rule 6)."""

from celery import shared_task

from services.services.deadlines import requests_deadline_sweep
from services.services.privacy import privacy_retention_run


@shared_task(ignore_result=True)
def requests_deadline_sweep_task() -> dict[str, int]:
    """Warn units of requests near their deadline and escalate overdue ones."""
    return requests_deadline_sweep()


@shared_task(ignore_result=True)
def privacy_retention_task() -> dict[str, int]:
    """Erase the contact details due and the camera snapshots no camera keeps (hourly;
    each is done once)."""
    return privacy_retention_run()
