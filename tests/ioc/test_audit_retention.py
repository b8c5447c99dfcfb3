"""The audit log's retention: whole months past IOC_AUDIT_RETENTION_DAYS are exported
(gzip JSON Lines, 0600, read back) before any of their rows is deleted, the deletion is
itself audited, and an export that cannot be written or read deletes nothing."""

from __future__ import annotations

import gzip
import stat
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ioc.models import AuditEntry
from ioc.services import audit_retention
from ioc.services.audit_retention import (
    AuditExportError,
    audit_export_read,
    audit_prune_boundary,
    audit_prune_due,
)
from ioc.tasks import audit_prune_task

pytestmark = pytest.mark.django_db

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=VIETNAM)


@pytest.fixture(autouse=True)
def _retention(settings: Any, tmp_path: Path) -> Path:
    settings.IOC_AUDIT_RETENTION_DAYS = 365
    settings.IOC_AUDIT_EXPORT_DIR = tmp_path / "audit-export"
    return settings.IOC_AUDIT_EXPORT_DIR


def entries_at(*moments: datetime, action: str = "test.action") -> list[AuditEntry]:
    return AuditEntry.objects.bulk_create(
        AuditEntry(
            at=moment,
            actor_label="tester",
            action=action,
            object_type="test",
            object_id=str(n),
            object_repr=f"object {n}",
            before={"n": n},
            after={"n": n + 1, "text": "Phường Phan Đình Phùng"},
            ip_address="192.0.2.10",
        )
        for n, moment in enumerate(moments)
    )


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=VIETNAM)


def test_whole_months_past_the_retention_are_exported_then_deleted(
    demo_city: Any, _retention: Path
) -> None:
    # Retention 365 days from 15/06/2026: 15/06/2025, so months up to May 2025 may go.
    assert audit_prune_boundary(NOW) == at(2025, 6, 1, 0)
    old = entries_at(at(2025, 4, 1, 0), at(2025, 4, 30, 23), at(2025, 5, 31, 23))
    kept = entries_at(at(2025, 6, 1, 0), at(2025, 6, 2), at(2026, 6, 1))
    exports = audit_prune_due(now=NOW)
    assert [(e.month, e.rows, e.deleted) for e in exports] == [("2025-04", 2, 2), ("2025-05", 1, 1)]
    assert not AuditEntry.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEntry.objects.filter(pk__in=[e.pk for e in kept]).count() == 3
    april = _retention / "audit-2025-04.jsonl.gz"
    assert stat.S_IMODE(april.stat().st_mode) == 0o600
    assert not list(_retention.glob("*.part")) and not list(_retention.glob(".*"))
    rows = list(audit_export_read(april))
    assert [row["id"] for row in rows] == [old[0].pk, old[1].pk]
    assert rows[1]["after"] == {"n": 2, "text": "Phường Phan Đình Phùng"}
    assert rows[0]["ip_address"] == "192.0.2.10" and rows[0]["action"] == "test.action"
    assert rows[0]["at"].startswith("2025-03-31T17:00:00")  # the instant, in UTC as stored
    # The deletion itself is in the log, naming the file and what it held.
    recorded = AuditEntry.objects.filter(action="audit.pruned").order_by("id")
    assert [entry.after["month"] for entry in recorded] == ["2025-04", "2025-05"]
    first = recorded[0]
    assert first.after["file"] == "audit-2025-04.jsonl.gz" and first.after["rows"] == 2
    assert first.after["sha256"] == exports[0].sha256 and first.actor_label == "retention"
    # A second run has nothing to do.
    assert audit_prune_due(now=NOW) == []


def test_a_month_exported_again_gets_a_file_of_its_own(demo_city: Any, _retention: Path) -> None:
    entries_at(at(2025, 3, 10))
    audit_prune_due(now=NOW)
    late = entries_at(at(2025, 3, 20))  # dated into the month after its export
    [export] = audit_prune_due(now=NOW)
    assert export.path.name == "audit-2025-03.2.jsonl.gz"
    assert [row["id"] for row in audit_export_read(export.path)] == [late[0].pk]
    assert len(list(audit_export_read(_retention / "audit-2025-03.jsonl.gz"))) == 1


def test_nothing_is_deleted_when_the_export_cannot_be_written(
    demo_city: Any, monkeypatch: Any
) -> None:
    old = entries_at(at(2025, 2, 1))

    def fsync_fails(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audit_retention.os, "fsync", fsync_fails)
    with pytest.raises(OSError):
        audit_prune_due(now=NOW)
    assert AuditEntry.objects.filter(pk=old[0].pk).exists()
    assert not AuditEntry.objects.filter(action="audit.pruned").exists()


def test_nothing_is_deleted_when_the_export_does_not_read_back_whole(
    demo_city: Any, monkeypatch: Any, _retention: Path
) -> None:
    old = entries_at(*(at(2025, 2, day) for day in range(1, 21)))
    written = audit_retention._month_write

    def damaged(*args: Any) -> Any:
        export = written(*args)
        data = export.path.read_bytes()
        export.path.chmod(0o600)
        export.path.write_bytes(data[: len(data) // 2])  # the disk lost its end
        return export

    monkeypatch.setattr(audit_retention, "_month_write", damaged)
    with pytest.raises(AuditExportError):
        audit_prune_due(now=NOW)
    assert AuditEntry.objects.filter(pk__in=[entry.pk for entry in old]).count() == 20
    assert not AuditEntry.objects.filter(action="audit.pruned").exists()


def test_only_the_rows_read_back_from_the_export_are_deleted(
    demo_city: Any, monkeypatch: Any
) -> None:
    old = entries_at(at(2025, 1, 5), at(2025, 1, 6))
    written = audit_retention._month_write
    sneaked: list[AuditEntry] = []

    def then_one_more(*args: Any) -> Any:
        export = written(*args)
        if not sneaked:
            sneaked.extend(entries_at(at(2025, 1, 7)))  # after the export was written
        return export

    monkeypatch.setattr(audit_retention, "_month_write", then_one_more)
    [export, again] = audit_prune_due(now=NOW)
    assert export.rows == 2 and again.rows == 1  # the late row went into a second export
    assert not AuditEntry.objects.filter(pk__in=[e.pk for e in [*old, *sneaked]]).exists()
    assert [row["id"] for row in audit_export_read(again.path)] == [sneaked[0].pk]


def test_a_retention_of_zero_keeps_everything(demo_city: Any, settings: Any) -> None:
    settings.IOC_AUDIT_RETENTION_DAYS = 0
    old = entries_at(at(2000, 1, 1))
    assert audit_prune_boundary(NOW) is None and audit_prune_due(now=NOW) == []
    assert AuditEntry.objects.filter(pk=old[0].pk).exists()


def test_the_task_prunes_and_counts(demo_city: Any, settings: Any, _retention: Path) -> None:
    settings.IOC_AUDIT_RETENTION_DAYS = 30
    entries_at(at(2001, 1, 1), at(2001, 2, 1))
    assert audit_prune_task() == 2
    assert sorted(path.name for path in _retention.iterdir()) == [
        "audit-2001-01.jsonl.gz",
        "audit-2001-02.jsonl.gz",
    ]
    with gzip.open(_retention / "audit-2001-01.jsonl.gz") as lines:
        assert len(lines.readlines()) == 1
