"""Celery tasks of citizen services: thin wrappers around services (house rule 6)."""

from celery import shared_task

from services.services.deadlines import requests_deadline_sweep


@shared_task(ignore_result=True)
def requests_deadline_sweep_task() -> dict[str, int]:
    """Warn units of requests near their deadline and escalate overdue ones."""
    return requests_deadline_sweep()
