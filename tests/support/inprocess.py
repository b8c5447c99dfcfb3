"""An ``ioc.inprocess`` runner serving on an event loop of its own, as the embedded server
runs it, for sync tests."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.db import connections

from ioc import inprocess


@contextlib.contextmanager
def runner_serving(runner: inprocess.Runner) -> Iterator[inprocess.Runner]:
    """``runner`` serving hand-overs on a loop in a thread of its own; cancelled afterwards
    (a run under way is let finish, as in the server). Each run closes its thread's
    database connection after it: an open one would block dropping the test database."""
    job = runner.job

    def closing(items: list[Any]) -> object:
        try:
            return job(items)
        finally:
            connections.close_all()

    runner.job = closing
    loop = asyncio.new_event_loop()
    task = loop.create_task(runner.run())

    def serve() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=serve, name=f"runner-{runner.name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not inprocess.serving(runner.name):
        assert time.monotonic() < deadline, f"the runner {runner.name} did not start"
        time.sleep(0.01)
    try:
        yield runner
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
