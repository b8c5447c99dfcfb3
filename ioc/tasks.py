"""Celery tasks of the core (thin: each calls one function)."""

from celery import shared_task

from ioc import realtime, selectors


@shared_task(ignore_result=True)
def realtime_heartbeat_task() -> int:
    """Send the periodic heartbeat through every live group (see ioc.realtime.heartbeat)."""
    return realtime.heartbeat(selectors.current_ward_codes(), selectors.current_department_codes())
