"""Pulled feeds, run on the beat schedule: camera health and snapshots, traffic-signal state.

Requests go out concurrently but bounded (a semaphore), under the device HTTP policy
(``cameras.device_http``: short timeouts, bounded answers), so one dead camera never
holds up the rest. What a poll learns enters the platform the same
way a pushed report does (cameras.services.ingest), so latest state, status flips and
alerts follow the same rules. A failed poll changes nothing by itself: the offline sweep
marks a device offline once it has been silent for its tolerance.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from cameras.choices import DeviceKind, DeviceStatus, EventType
from cameras.device_http import (
    MAX_RESPONSE_BYTES,
    ResponseTooLarge,
    device_async_client,
    fetch,
)
from cameras.models import CODE_VALIDATOR, CameraDetail, SignalDetail
from cameras.services.ingest.outbox import ingest_accept
from cameras.services.ingest.validation import ParsedEvent

SNAPSHOT_TOO_LARGE = "snapshot larger than 2 MB"


@dataclass
class PollSummary:
    """What one polling round found."""

    polled: int = 0
    healthy: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    snapshots: int = 0


@dataclass(frozen=True)
class Target:
    """One device to poll, with what is needed to reach it (credentials stay server-side)."""

    device_id: int
    code: str
    url: str
    snapshot_url: str
    auth: tuple[str, str] | None


def snapshot_path(code: str) -> Path:
    """Where a camera's latest snapshot is kept (served to staff through a scoped view).
    A code that is not a plain name (``CODE_VALIDATOR``) never becomes a path: ValueError."""
    try:
        CODE_VALIDATOR(code)
    except ValidationError as exc:
        raise ValueError(f"device code {code!r} cannot name a file") from exc
    return Path(settings.MEDIA_ROOT) / "snapshots" / f"{code}.jpg"


def _checked_image(content: bytes) -> bytes:
    """The snapshot as JPEG if it really is an image (decoded, not trusted by its type)."""
    if len(content) > MAX_RESPONSE_BYTES:
        raise ValueError(SNAPSHOT_TOO_LARGE)
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            if image.format == "JPEG":
                return content
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("snapshot is not an image") from exc


def _store_snapshot(code: str, content: bytes) -> None:
    """Write atomically, so a reader never sees half a picture."""
    path = snapshot_path(code)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as tmp:
        tmp.write(content)
    os.replace(tmp.name, path)


async def _poll_cameras(
    targets: list[Target], concurrency: int, timeout: float | None
) -> dict[str, Any]:
    """Each camera's health (and snapshot): ("ok", the image, None, or why it was refused),
    or why the camera failed."""
    limit = asyncio.Semaphore(concurrency)
    results: dict[str, Any] = {}
    async with device_async_client(timeout=timeout) as client:

        async def one(target: Target) -> None:
            try:
                status, _health = await fetch(client, limit, target.url, target.auth)
                if status >= 400:
                    results[target.code] = f"health answered HTTP {status}"
                    return
                snapshot: bytes | str | None = None
                if target.snapshot_url:
                    try:
                        status, body = await fetch(client, limit, target.snapshot_url, target.auth)
                    except ResponseTooLarge:
                        snapshot = SNAPSHOT_TOO_LARGE  # healthy, but no picture kept
                    else:
                        snapshot = body if status < 400 else None
                results[target.code] = ("ok", snapshot)
            except httpx.HTTPError as exc:
                results[target.code] = f"{type(exc).__name__}: {exc}"[:200]

        await asyncio.gather(*(one(target) for target in targets))
    return results


def cameras_poll(*, concurrency: int = 20, timeout: float | None = None) -> PollSummary:
    """Poll every camera that has a health URL (maintenance excluded); a healthy answer
    counts as a heartbeat and its snapshot, if it is a real image, becomes the latest."""
    rows = (
        CameraDetail.objects.exclude(health_url="")
        .exclude(device__status=DeviceStatus.MAINTENANCE)
        .values_list(
            "device_id", "device__code", "health_url", "snapshot_url", "username", "password"
        )
    )
    targets = [
        Target(device_id, code, health, snapshot, (user, password) if user else None)
        for device_id, code, health, snapshot, user, password in rows
    ]
    summary = PollSummary(polled=len(targets))
    results = asyncio.run(_poll_cameras(targets, concurrency, timeout)) if targets else {}
    now = timezone.now()
    events: list[ParsedEvent] = []
    snapshot_ids: list[int] = []
    for target in targets:
        outcome = results.get(target.code, "no answer")
        if isinstance(outcome, str):
            summary.failed[target.code] = outcome
            continue
        summary.healthy += 1
        events.append(_poll_event(target, now, EventType.HEARTBEAT, {"source": "poll"}))
        if isinstance(outcome[1], str):
            summary.failed[target.code] = outcome[1]
        elif outcome[1] is not None:
            try:
                _store_snapshot(target.code, _checked_image(outcome[1]))
            except ValueError as exc:
                summary.failed[target.code] = str(exc)
            else:
                summary.snapshots += 1
                snapshot_ids.append(target.device_id)
    if snapshot_ids:
        CameraDetail.objects.filter(device_id__in=snapshot_ids).update(snapshot_at=now)
    if events:
        ingest_accept(events=events, source="poll:cameras")
    return summary


def _poll_event(target: Target, now: Any, kind: str, data: dict[str, Any]) -> ParsedEvent:
    """A report made on the device's behalf by the poller (one id per device and second)."""
    return ParsedEvent(
        device_id=target.device_id,
        device_code=target.code,
        event_id=f"poll-{int(now.timestamp())}",
        type=kind,
        ts=now,
        data=data,
    )


async def _poll_signals(
    targets: list[Target], concurrency: int, timeout: float | None
) -> dict[str, Any]:
    """Each controller's state (a JSON object), or why it could not be read."""
    limit = asyncio.Semaphore(concurrency)
    results: dict[str, Any] = {}
    async with device_async_client(timeout=timeout) as client:

        async def one(target: Target) -> None:
            try:
                status, body = await fetch(client, limit, target.url, target.auth)
                if status >= 400:
                    results[target.code] = f"state answered HTTP {status}"
                    return
                state = json.loads(body)
                results[target.code] = (
                    state if isinstance(state, dict) else "state is not a JSON object"
                )
            except (httpx.HTTPError, ValueError) as exc:
                results[target.code] = f"{type(exc).__name__}: {exc}"[:200]

        await asyncio.gather(*(one(target) for target in targets))
    return results


def signals_poll(*, concurrency: int = 10, timeout: float | None = None) -> PollSummary:
    """Read every traffic-signal controller's state; an unreachable one is marked lost."""
    rows = (
        SignalDetail.objects.exclude(controller_url="")
        .filter(device__kind=DeviceKind.SIGNAL)
        .values_list("device_id", "device__code", "controller_url", "username", "password")
    )
    targets = [
        Target(device_id, code, f"{url.rstrip('/')}/state", "", (user, password) if user else None)
        for device_id, code, url, user, password in rows
    ]
    summary = PollSummary(polled=len(targets))
    results = asyncio.run(_poll_signals(targets, concurrency, timeout)) if targets else {}
    now = timezone.now()
    events: list[ParsedEvent] = []
    lost: list[int] = []
    for target in targets:
        outcome = results.get(target.code, "no answer")
        if isinstance(outcome, str):
            summary.failed[target.code] = outcome
            lost.append(target.device_id)
            continue
        summary.healthy += 1
        state = {key: outcome[key] for key in ("mode", "plan", "phase", "faults") if key in outcome}
        events.append(_poll_event(target, now, EventType.STATUS, {**state, "source": "poll"}))
    if lost:
        SignalDetail.objects.filter(device_id__in=lost).update(comm_status="lost")
    if events:
        ingest_accept(events=events, source="poll:signals")
    return summary
