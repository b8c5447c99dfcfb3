"""The simulated devices' own HTTP endpoints: a small ASGI app that uvicorn serves.

    GET  /cameras/<code>/health        200 {"status": "ok"}; 503 during a simulated outage
    GET  /cameras/<code>/snapshot.jpg  a JPEG drawn locally, re-rendered once a second
    GET  /signals/<code>/state         {"mode", "plan", "phase", "faults"}
    POST /signals/<code>/command       {"action": "set_plan"|"flash"|"auto", "plan": "P2"}
                                       -> 200 {"accepted": true, "state": {...}}

Unknown codes answer 404 and bad JSON 400. HTTP basic auth may be sent; any is accepted,
as the demo's credentials are made up.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from cameras.simulator.model import City
from cameras.simulator.snapshot import SnapshotCache

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ROUTE = re.compile(r"^/(?P<family>cameras|signals)/(?P<code>[^/]+)/(?P<leaf>[^/]+)$")
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, body and content type."""

    status: int
    body: bytes
    content_type: str = "application/json"


def json_answer(status: int, payload: dict[str, Any]) -> Answer:
    """A JSON answer."""
    return Answer(status, json.dumps(payload).encode())


NOT_FOUND = json_answer(404, {"error": "no such device"})
UNREACHABLE = json_answer(503, {"error": "device unreachable (simulated outage)"})


class DeviceEndpoints:
    """The ASGI app of the simulated cameras and traffic-signal controllers."""

    def __init__(
        self,
        city: City,
        *,
        clock: Callable[[], float] = time.time,
        snapshots: SnapshotCache | None = None,
    ) -> None:
        self.city = city
        self.clock = clock
        self.snapshots = snapshots or SnapshotCache()
        self.requests = 0

    def respond(self, method: str, path: str, body: bytes = b"") -> Answer:
        """The answer to one request (the whole app, minus the ASGI plumbing)."""
        self.requests += 1
        now = self.clock()
        if path == "/healthz":
            return json_answer(200, {"status": "ok", "devices": len(self.city.devices)})
        match = ROUTE.match(path)
        if match is None:
            return NOT_FOUND
        family, code, leaf = match["family"], unquote(match["code"]), match["leaf"]
        if family == "cameras":
            camera = self.city.camera(code)
            if camera is None or leaf not in {"health", "snapshot.jpg"}:
                return NOT_FOUND
            if method not in {"GET", "HEAD"}:
                return json_answer(405, {"error": "use GET"})
            if camera.in_outage(now):
                return UNREACHABLE
            if leaf == "health":
                return json_answer(200, {"status": "ok"})
            return Answer(200, self.snapshots.get(code, now), "image/jpeg")
        signal = self.city.signal(code)
        if signal is None or leaf not in {"state", "command"}:
            return NOT_FOUND
        if leaf == "state" and method not in {"GET", "HEAD"}:
            return json_answer(405, {"error": "use GET"})
        if leaf == "command" and method != "POST":
            return json_answer(405, {"error": "use POST"})
        if signal.in_outage(now):
            return UNREACHABLE
        if leaf == "state":
            return json_answer(200, signal.state())
        try:
            command = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            return json_answer(400, {"accepted": False, "error": "the body is not valid JSON"})
        if not isinstance(command, dict):
            return json_answer(400, {"accepted": False, "error": "send a JSON object"})
        error = signal.apply(
            command.get("action"),
            command.get("plan", ""),
            now=now,
            revert_after=command.get("revert_after_seconds"),
        )
        if error is not None:
            return json_answer(400, {"accepted": False, "error": error})
        return json_answer(200, {"accepted": True, "state": signal.state()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await self._send(send, json_answer(413, {"error": "body too large"}), head=False)
                return
        method, path = scope["method"], scope["path"]
        if path.endswith("/snapshot.jpg"):  # rendering takes milliseconds: not on the loop
            answer = await asyncio.to_thread(self.respond, method, path, body)
        else:
            answer = self.respond(method, path, body)
        await self._send(send, answer, head=method == "HEAD")

    @staticmethod
    async def _send(send: Send, answer: Answer, *, head: bool) -> None:
        headers = [
            (b"content-type", answer.content_type.encode()),
            (b"content-length", str(len(answer.body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else answer.body})
