"""Camera snapshots over time: each camera's latest is kept however old; any other file of
the snapshots folder goes once IOC_SNAPSHOT_RETENTION_DAYS old, audited; request photos
(what a request references) are never touched."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from cameras.services.polling import snapshot_path
from cameras.services.snapshots import snapshots_prune
from ioc.models import AuditEntry
from services.photos import photo_prepare
from tests.support import OWN_WARD, example_device, file_request, jpeg, jpeg_upload

pytestmark = pytest.mark.django_db
DAY = 86400


def written(path: Path, days_ago: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg(label="CCTV"))
    moment = time.time() - days_ago * DAY
    os.utime(path, (moment, moment))
    return path


def test_only_files_no_camera_keeps_go_once_old(
    demo_city: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.IOC_SNAPSHOT_RETENTION_DAYS = 30
    camera = example_device(OWN_WARD, "camera")
    latest_old = written(snapshot_path(camera.code), days_ago=400)  # an offline camera's
    gone_camera = written(snapshot_path("CAM-REMOVED-1"), days_ago=31)
    gone_recently = written(snapshot_path("CAM-REMOVED-2"), days_ago=29)
    interrupted = written(tmp_path / "snapshots" / "tmpabc.part", days_ago=31)
    request = file_request(photos=[photo_prepare(jpeg_upload())])
    photo = request.photos.get()
    photo_file = Path(photo.image.path)
    os.utime(photo_file, (time.time() - 400 * DAY,) * 2)
    assert snapshots_prune() == 2
    assert latest_old.exists() and gone_recently.exists() and photo_file.exists()
    assert not gone_camera.exists() and not interrupted.exists()
    entry = AuditEntry.objects.get(action="snapshots.pruned")
    assert entry.after == {"removed": ["CAM-REMOVED-1.jpg", "tmpabc.part"]}
    assert entry.reason == "IOC_SNAPSHOT_RETENTION_DAYS=30"
    assert snapshots_prune() == 0
    assert AuditEntry.objects.filter(action="snapshots.pruned").count() == 1


def test_no_snapshots_folder_is_nothing_to_do(
    demo_city: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    assert snapshots_prune() == 0
    assert not AuditEntry.objects.filter(action="snapshots.pruned").exists()
