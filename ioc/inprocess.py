"""Work the embedded server gathers: a writer hands an item (a batch id) to a named runner,
which soon after runs its job once for every item handed over meanwhile, in a worker thread
of the server's loop (where what it publishes reaches the in-memory channel layer).

Only the embedded server (``ioc.embedded.serve``) starts runners. Anywhere else (tests,
management commands, production's web processes) ``hand_over`` finds none and returns
False, and the caller does the work itself, as before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async

logger = logging.getLogger(__name__)

_runners: dict[str, Runner] = {}


class Runner:
    """Runs ``job(items)`` for the items handed over since its last run, never two runs at
    once: items arriving during a run wait for the next. ``gather`` seconds after the first
    item of a run, the run starts, so that items arriving together are done together."""

    def __init__(
        self, name: str, job: Callable[[list[Any]], object], *, gather: float = 0.0
    ) -> None:
        self.name = name
        self.job = job
        self.gather = gather
        self._items: list[Any] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    def hand_over(self, item: Any) -> bool:
        """Queue ``item`` for the next run (from any thread); False if not running."""
        loop, woken = self._loop, self._woken
        if loop is None or woken is None:
            return False
        with self._lock:
            self._items.append(item)
        try:
            loop.call_soon_threadsafe(woken.set)
        except RuntimeError:  # the loop has closed: the caller does the work itself
            with self._lock:
                if item in self._items:
                    self._items.remove(item)
            return False
        return True

    def _take(self) -> list[Any]:
        with self._lock:
            items, self._items = self._items, []
        return items

    async def run(self) -> None:
        """Serve hand-overs until cancelled (registered under ``name`` meanwhile)."""
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        _runners[self.name] = self
        try:
            while True:
                await self._woken.wait()
                if self.gather > 0:
                    await asyncio.sleep(self.gather)
                self._woken.clear()
                items = self._take()
                if not items:
                    continue
                # Cancelled meanwhile (the server stopping), the run is let finish, as
                # the beat's tick is: its thread would otherwise wait for this loop.
                work = asyncio.ensure_future(sync_to_async(self.job, thread_sensitive=False)(items))
                try:
                    await asyncio.shield(work)
                except asyncio.CancelledError:
                    await asyncio.wait([work])
                    raise
                except Exception:  # what is left undone is the job's own to recover
                    logger.exception("in-process %s: a run failed", self.name)
        finally:
            if _runners.get(self.name) is self:
                del _runners[self.name]
            self._loop = self._woken = None


def serving(name: str) -> bool:
    """Whether a runner ``name`` takes hand-overs now."""
    return name in _runners


def hand_over(name: str, item: Any) -> bool:
    """Give ``item`` to the running runner ``name``; False when there is none (do it
    yourself)."""
    runner = _runners.get(name)
    return runner is not None and runner.hand_over(item)
