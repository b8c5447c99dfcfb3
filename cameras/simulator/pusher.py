"""Delivery of the simulated events to the ingest API, the way a ward gateway does it.

Events are batched per gateway (at most 1000 per request) and posted with
``Authorization: Gateway <token>``. On 429, 5xx or a connection error the same batch is
sent again after a back-off (same event ids, so the platform counts any repeat as a
duplicate); a batch the platform refuses as invalid is dropped and counted.

Plain ``urllib`` in worker threads: the simulator must run with the runtime dependencies
alone (``make run`` does not install the development tools).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cameras.services.ingest.validation import MAX_EVENTS

MAX_BACKOFF_SECONDS = 30.0
# Beyond this many unsent events a gateway drops its oldest batches (the server is down).
MAX_PENDING_EVENTS = 50_000


@dataclass(frozen=True)
class HttpAnswer:
    """What the server said."""

    status: int
    body: bytes
    retry_after: float | None = None


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    """POST ``body``; an HTTP error status is an answer, a network failure raises OSError."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HttpAnswer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        try:
            delay = float(retry_after) if retry_after else None
        except ValueError:
            delay = None
        return HttpAnswer(exc.code, exc.read(), delay)


@dataclass
class PushStats:
    """Running totals, and the window since the last summary line."""

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0
    rejected: int = 0
    dropped: int = 0
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def window(self, previous: PushStats) -> PushStats:
        """The difference since ``previous`` (a copy taken at the last summary)."""
        return PushStats(
            sent=self.sent - previous.sent,
            accepted=self.accepted - previous.accepted,
            duplicates=self.duplicates - previous.duplicates,
            retries=self.retries - previous.retries,
            rejected=self.rejected - previous.rejected,
            dropped=self.dropped - previous.dropped,
            requests=self.requests - previous.requests,
            errors=self.errors - previous.errors,
        )

    def copy(self) -> PushStats:
        """A snapshot of the totals."""
        return PushStats(**{**self.__dict__, "errors": Counter(self.errors)})


class Pusher:
    """Batches events per gateway and posts them, one request in flight per gateway."""

    def __init__(
        self,
        base_url: str,
        tokens: dict[str, str],
        *,
        post: Callable[[str, bytes, dict[str, str], float], HttpAnswer] = http_post,
        reissue: Callable[[str], str] | None = None,
        log: Callable[[str], None] = print,
        max_in_flight: int = 8,
        timeout: float = 15.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/ingest/events"
        self.tokens = dict(tokens)
        self.post = post
        self.reissue = reissue
        self.log = log
        self.timeout = timeout
        self.sleep = sleep
        self.stats = PushStats()
        self.open: dict[str, list[dict[str, Any]]] = {}
        self.pending: dict[str, deque[list[dict[str, Any]]]] = {}
        self.senders: dict[str, asyncio.Task[None]] = {}
        self.slots = asyncio.Semaphore(max_in_flight)
        self.reissued: set[str] = set()
        self._logged: set[str] = set()

    def add(self, gateway: str, event: dict[str, Any]) -> None:
        """Queue one event of ``gateway`` for the next flush."""
        if gateway in self.tokens:
            self.open.setdefault(gateway, []).append(event)

    def flush(self) -> None:
        """Close the open batches and start sending them (does not wait)."""
        for gateway, events in self.open.items():
            queue = self.pending.setdefault(gateway, deque())
            for start in range(0, len(events), MAX_EVENTS):
                queue.append(events[start : start + MAX_EVENTS])
            while sum(len(batch) for batch in queue) > MAX_PENDING_EVENTS:
                self.stats.dropped += len(queue.popleft())
            sender = self.senders.get(gateway)
            if sender is None or sender.done():
                self.senders[gateway] = asyncio.create_task(self._send_all(gateway))
        self.open = {}

    def backlog(self) -> int:
        """Events waiting to be sent."""
        return sum(len(b) for queue in self.pending.values() for b in queue) + sum(
            len(events) for events in self.open.values()
        )

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for everything queued to be sent, then stop."""
        if timeout > 0:
            self.flush()
        running = [task for task in self.senders.values() if not task.done()]
        if running:
            _done, late = (
                await asyncio.wait(running, timeout=timeout) if timeout > 0 else (set(), running)
            )
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    def _error(self, gateway: str, what: str, outcome: str) -> None:
        """Count an error; say it on the console the first time it happens."""
        self.stats.errors[what] += 1
        if what not in self._logged:
            self._logged.add(what)
            self.log(f"{what} (gateway {gateway}); {outcome}")

    async def _send_all(self, gateway: str) -> None:
        """Send the gateway's batches in order, backing off while the server cannot take them."""
        queue = self.pending[gateway]
        backoff = 1.0
        while queue:
            batch = queue[0]
            delay = await self._send(gateway, batch)
            if delay is None:
                queue.popleft()
                backoff = 1.0
                continue
            self.stats.retries += 1
            await self.sleep(max(delay, backoff))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _send(self, gateway: str, batch: list[dict[str, Any]]) -> float | None:
        """Post one batch; None when done with it, else the seconds to wait before a retry."""
        body = json.dumps({"events": batch}).encode()
        headers = {
            "Authorization": f"Gateway {self.tokens[gateway]}",
            "Content-Type": "application/json",
        }
        async with self.slots:
            try:
                answer = await asyncio.to_thread(self.post, self.url, body, headers, self.timeout)
            except OSError as exc:  # refused, reset, timed out: the server is not there
                reason = getattr(exc, "reason", exc)
                self._error(gateway, f"cannot reach {self.url}: {reason}", "retrying")
                return 2.0
        self.stats.requests += 1
        if answer.status == 202:
            try:
                result = json.loads(answer.body)
            except ValueError:
                result = {}
            self.stats.sent += len(batch)
            self.stats.accepted += int(result.get("accepted", 0))
            self.stats.duplicates += int(result.get("duplicates", 0))
            return None
        if answer.status == 401 and self.reissue is not None and gateway not in self.reissued:
            # The token was replaced behind our back (another simulator, issue_token).
            self.reissued.add(gateway)
            self.tokens[gateway] = await asyncio.to_thread(self.reissue, gateway)
            self._error(gateway, "token refused (401)", "issued a new one")
            return 0.0
        if answer.status == 429 or answer.status >= 500 or answer.status == 401:
            self._error(gateway, f"server answered {answer.status}", "retrying")
            return answer.retry_after or 1.0
        # 400, 403, 413: sending it again would not help.
        self.stats.rejected += len(batch)
        detail = answer.body[:200].decode(errors="replace")
        self._error(gateway, f"server refused a batch ({answer.status}): {detail}", "dropped it")
        return None
