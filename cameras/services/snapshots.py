"""Camera snapshots over time: a camera image may show people and number plates (personal
data, Law 91/2025/QH15), so the snapshots folder keeps each camera's latest and nothing
else for long.

The poll overwrites ``snapshots/<code>.jpg`` (``polling.snapshot_path``): the platform
keeps no series of images. No incident, alert or request stores a camera image: a
detection's ``snapshot`` is the device's own reference, and requests' photos live under
``requests/`` (never touched here). What can pile up is a file no camera keeps: a deleted
or renamed camera's last image, or an interrupted write; such a file is removed once it is
IOC_SNAPSHOT_RETENTION_DAYS old.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings

from cameras.models import Device
from ioc.services.audit import audit_record

logger = logging.getLogger(__name__)


def snapshots_folder() -> Path:
    """Where the cameras' latest snapshots are kept (``polling.snapshot_path``'s folder)."""
    return Path(settings.MEDIA_ROOT) / "snapshots"


def snapshots_prune(*, now: float | None = None) -> int:
    """Remove the files of the snapshots folder that are not a registered device's latest
    snapshot and were last written IOC_SNAPSHOT_RETENTION_DAYS ago or more; each camera's
    latest is kept however old. Audited (one entry naming the files) when anything goes.
    Returns the number of files removed."""
    folder = snapshots_folder()
    if not folder.is_dir():
        return 0
    age = settings.IOC_SNAPSHOT_RETENTION_DAYS * 86400
    cutoff = (now if now is not None else time.time()) - age
    candidates = [path for path in folder.iterdir() if path.is_file()]
    codes = {path.stem for path in candidates if path.suffix == ".jpg"}
    kept = set(Device.objects.filter(code__in=codes).values_list("code", flat=True))
    removed: list[str] = []
    for path in candidates:
        if path.suffix == ".jpg" and path.stem in kept:
            continue
        try:
            if path.stat().st_mtime > cutoff:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path.name)
    if removed:
        logger.info("snapshots removed: %s", len(removed))
        audit_record(
            actor=None,
            actor_label="retention",
            action="snapshots.pruned",
            obj=None,
            object_type="cameras.snapshot",
            object_repr=f"{len(removed)} snapshots",
            after={"removed": sorted(removed)},
            reason=f"IOC_SNAPSHOT_RETENTION_DAYS={settings.IOC_SNAPSHOT_RETENTION_DAYS}",
        )
    return len(removed)
