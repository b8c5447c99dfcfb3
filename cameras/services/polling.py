"""Pulled feeds, run on the beat schedule: camera health and snapshots, traffic-signal state.

Requests go out concurrently but bounded (a semaphore), each with a short timeout, so
one dead camera never holds up the rest. What a poll learns enters the platform the same
way a pushed report does (cameras.services.ingest), so latest state, status flips and
alerts follow the same rules. A failed poll changes nothing by itself: the offline sweep
marks a device offline once it has been silent for its tolerance.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from cameras.choices import DeviceKind, DeviceStatus, EventType
from cameras.models import CameraDetail, SignalDetail
from cameras.services.ingest import ParsedEvent, ingest_accept

MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024


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
    """Where a camera's latest snapshot is kept (served to staff through a scoped view)."""
    return Path(settings.MEDIA_ROOT) / "snapshots" / f"{code}.jpg"


def _checked_image(content: bytes) -> bytes:
    """The snapshot as JPEG if it really is an image (decoded, not trusted by its type)."""
    if len(content) > MAX_SNAPSHOT_BYTES:
        raise ValueError("snapshot larger than 2 MB")
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


async def _fetch(
    client: httpx.AsyncClient, limit: asyncio.Semaphore, url: str, auth: Any
) -> httpx.Response:
    async with limit:
        return await client.get(url, auth=auth)


async def _poll_cameras(targets: list[Target], concurrency: int, timeout: float) -> dict[str, Any]:
    limit = asyncio.Semaphore(concurrency)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:

        async def one(target: Target) -> None:
            try:
                health = await _fetch(client, limit, target.url, target.auth)
                if health.status_code >= 400:
                    results[target.code] = f"health answered HTTP {health.status_code}"
                    return
                snapshot = None
                if target.snapshot_url:
                    answer = await _fetch(client, limit, target.snapshot_url, target.auth)
                    if answer.status_code < 400:
                        snapshot = answer.content
                results[target.code] = ("ok", snapshot)
            except httpx.HTTPError as exc:
                results[target.code] = f"{type(exc).__name__}: {exc}"[:200]

        await asyncio.gather(*(one(target) for target in targets))
    return results


def cameras_poll(*, concurrency: int = 20, timeout: float = 3.0) -> PollSummary:
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
        if outcome[1] is not None:
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


async def _poll_signals(targets: list[Target], concurrency: int, timeout: float) -> dict[str, Any]:
    limit = asyncio.Semaphore(concurrency)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:

        async def one(target: Target) -> None:
            try:
                answer = await _fetch(client, limit, target.url, target.auth)
                answer.raise_for_status()
                state = answer.json()
                results[target.code] = (
                    state if isinstance(state, dict) else "state is not a JSON object"
                )
            except (httpx.HTTPError, ValueError) as exc:
                results[target.code] = f"{type(exc).__name__}: {exc}"[:200]

        await asyncio.gather(*(one(target) for target in targets))
    return results


def signals_poll(*, concurrency: int = 10, timeout: float = 3.0) -> PollSummary:
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
