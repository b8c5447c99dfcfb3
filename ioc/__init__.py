"""The city operations centre: project package and core (wards, roles, audit, realtime)."""

from ioc.celery import app as celery_app

__all__ = ["celery_app"]
