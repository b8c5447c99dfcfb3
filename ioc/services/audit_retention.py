"""The audit log over time: kept IOC_AUDIT_RETENTION_DAYS (0: for ever), never pruned
silently.

Whole months go, oldest first, once the last day of a month is past the retention. A
month is first written to IOC_AUDIT_EXPORT_DIR as gzip JSON Lines (one object per entry,
every column), file mode 0600, through a ``.part`` file that is fsynced and then linked
under its final name (``audit-YYYY-MM.jsonl.gz``; ``audit-YYYY-MM.2.jsonl.gz`` and so on
when a month is exported again, for entries dated into it after its first export). The
file is then read back whole; the rows deleted are exactly the ids read from it, a chunk
per transaction, so no row can be deleted without being in a readable export. Each month
deleted leaves an ``audit.pruned`` entry (file, rows, ids, SHA-256).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ioc.models import AuditEntry
from ioc.services.audit import audit_record

logger = logging.getLogger(__name__)

EXPORT_CHUNK = 2000
DELETE_CHUNK = 2000
COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "ward_code",
    "before",
    "after",
    "ip_address",
    "reason",
)


class AuditExportError(Exception):
    """An export could not be written or read back whole: nothing of its month is deleted."""


@dataclass(frozen=True)
class AuditExport:
    """One month of the audit log, exported and then deleted."""

    month: str
    path: Path
    rows: int
    deleted: int
    first_id: int
    last_id: int
    sha256: str


def _month_start(moment: datetime) -> datetime:
    """The first instant of ``moment``'s month, in the platform's time zone."""
    local = timezone.localtime(moment)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return _month_start(start + timedelta(days=32))


def audit_prune_boundary(now: datetime | None = None) -> datetime | None:
    """Entries before this instant may go: the start of the month in which the retention
    ends (whole months only, so an entry is kept at least IOC_AUDIT_RETENTION_DAYS). None
    when the log is kept for ever."""
    days = settings.IOC_AUDIT_RETENTION_DAYS
    if days <= 0:
        return None
    return _month_start((now or timezone.now()) - timedelta(days=days))


class _Hashing:
    """A binary file that also hashes what is written to it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _final_name(folder: Path, month: str, part: Path) -> Path:
    """Link ``part`` under the month's first free name (never over an earlier export)."""
    for number in range(1, 10_000):
        suffix = "" if number == 1 else f".{number}"
        final = folder / f"audit-{month}{suffix}.jsonl.gz"
        try:
            os.link(part, final)
        except FileExistsError:
            continue
        return final
    raise AuditExportError(f"no free export name for {month}")


def _month_write(folder: Path, month: str, start: datetime, end: datetime) -> AuditExport:
    """Write the month's entries as gzip JSON Lines, 0600, fsynced, under its final name."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = folder / f".audit-{month}.{os.getpid()}.part"
    rows = 0
    first_id = last_id = 0
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            hashing = _Hashing(raw)
            with gzip.GzipFile(fileobj=hashing, mode="wb", mtime=0) as packed:
                entries = (
                    AuditEntry.objects.filter(at__gte=start, at__lt=end)
                    .order_by("id")
                    .values(*COLUMNS)
                    .iterator(chunk_size=EXPORT_CHUNK)
                )
                for entry in entries:
                    packed.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
                    rows += 1
                    first_id = first_id or entry["id"]
                    last_id = entry["id"]
            raw.flush()
            os.fsync(raw.fileno())
        final = _final_name(folder, month, part)
        _fsync_dir(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return AuditExport(month, final, rows, 0, first_id, last_id, hashing.digest.hexdigest())


def audit_export_read(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of an export, in order (what an auditor reads back)."""
    with gzip.open(path, "rb") as lines:
        for line in lines:
            yield orjson.loads(line)


def _export_check(export: AuditExport) -> None:
    """The export is there, whole, as written: same bytes, every line an entry."""
    try:
        digest = hashlib.sha256(export.path.read_bytes()).hexdigest()
        rows = sum(1 for _entry in audit_export_read(export.path))
    except (OSError, EOFError, gzip.BadGzipFile, orjson.JSONDecodeError) as exc:
        raise AuditExportError(f"{export.path} cannot be read back: {exc}") from exc
    if digest != export.sha256 or rows != export.rows:
        raise AuditExportError(f"{export.path} is not what was written")


def _ids_in(export: AuditExport) -> Iterator[list[int]]:
    chunk: list[int] = []
    for entry in audit_export_read(export.path):
        chunk.append(int(entry["id"]))
        if len(chunk) == DELETE_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def audit_month_prune(start: datetime, end: datetime) -> AuditExport:
    """Export the entries dated in [start, end), read the export back, delete exactly the
    entries it holds (a chunk per transaction) and record the deletion."""
    month = f"{start:%Y-%m}"
    export = _month_write(Path(settings.IOC_AUDIT_EXPORT_DIR), month, start, end)
    _export_check(export)
    deleted = 0
    for ids in _ids_in(export):
        with transaction.atomic():
            deleted += AuditEntry.objects.filter(id__in=ids, at__lt=end).delete()[0]
    audit_record(
        actor=None,
        actor_label="retention",
        action="audit.pruned",
        obj=None,
        object_type=AuditEntry._meta.label_lower,
        object_repr=f"audit {month}",
        after={
            "month": month,
            "file": export.path.name,
            "rows": export.rows,
            "deleted": deleted,
            "first_id": export.first_id,
            "last_id": export.last_id,
            "sha256": export.sha256,
        },
        reason=f"IOC_AUDIT_RETENTION_DAYS={settings.IOC_AUDIT_RETENTION_DAYS}",
    )
    logger.info("audit log: %s exported to %s, %s rows deleted", month, export.path, deleted)
    return dataclasses.replace(export, deleted=deleted)


def audit_prune_due(*, now: datetime | None = None) -> list[AuditExport]:
    """Every whole month of the audit log past IOC_AUDIT_RETENTION_DAYS, oldest first,
    exported and then deleted (``audit_month_prune``); nothing when the retention is 0.
    An export that cannot be written or read back stops the run before its month's rows
    are touched (AuditExportError)."""
    boundary = audit_prune_boundary(now)
    if boundary is None:
        return []
    done: list[AuditExport] = []
    while True:
        oldest = (
            AuditEntry.objects.filter(at__lt=boundary)
            .order_by("at")
            .values_list("at", flat=True)
            .first()
        )
        if oldest is None:
            return done
        start = _month_start(oldest)
        export = audit_month_prune(start, min(_next_month(start), boundary))
        done.append(export)
        if export.deleted == 0:  # nothing went: looking again would find the same month
            return done
