"""The embedded mode's launcher pieces: one event loop runs the ASGI server and the beat.

Celery's own scheduler decides what is due; due tasks run eagerly (``task_always_eager``)
in a worker thread of the server's loop, so that what they publish reaches the
in-memory channel layer on the loop that owns it.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn
from asgiref.sync import sync_to_async
from celery.beat import Scheduler

from ioc.celery import app as celery_app

logger = logging.getLogger(__name__)


async def run_beat(max_interval: float = 1.0) -> None:
    """Run the beat schedule in-process until cancelled."""
    scheduler = await sync_to_async(Scheduler, thread_sensitive=False)(app=celery_app, lazy=False)
    while True:
        try:
            due_in = await sync_to_async(scheduler.tick, thread_sensitive=False)()
        except Exception:  # a failing task must not stop the schedule
            logger.exception("embedded beat: a scheduled task failed")
            due_in = max_interval
        await asyncio.sleep(min(max(due_in, 0.05), max_interval))


async def serve(*, host: str, port: int, beat: bool = True) -> None:
    """Serve the ASGI application, with the beat schedule beside it, until interrupted."""
    config = uvicorn.Config(
        "ioc.asgi:application", host=host, port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    beat_task = asyncio.create_task(run_beat()) if beat else None
    try:
        await server.serve()
    finally:
        if beat_task is not None:
            beat_task.cancel()
