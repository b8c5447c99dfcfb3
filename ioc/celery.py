"""The Celery application; configuration comes from Django settings (``CELERY_*``)."""

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioc.settings")

app = Celery("ioc")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_requests(task: Any = None, **_kwargs: Any) -> None:
    """Treat each task like a request: drop connections past ``CONN_MAX_AGE`` or broken
    (the health check), keep the others. Celery's own fixup would close the connection
    around every task (``CELERY_DB_REUSE_MAX`` turns that off), and a new PostgreSQL
    connection per ingest batch cost the worker about a twentieth of its time.

    Not for eager tasks (embedded mode): they run inside the caller's request."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def _collector_spares_the_start(**_kwargs: Any) -> None:
    """As gunicorn.conf.py does for a web worker: what the pool process inherited (Django,
    the apps, about 100,000 objects) goes to the collector's permanent generation, so the
    full collections that an ingest batch's thousands of rows set off no longer rescan it
    (a sixth of the worker's time, py-spy)."""
    gc.freeze()
