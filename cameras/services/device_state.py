"""A device's status change, written in one place: the history row, the device's
``status`` and ``status_changed_at``, and the live ``device.status`` event (after commit).

Feeds (``cameras.services.ingest``), the offline sweep, a status set by hand and a registry
edit all change a status through :func:`device_status_change`.
"""

from __future__ import annotations

from datetime import datetime

from cameras.models import Device, StatusChange
from ioc import realtime
from ioc.realtime import event_types

# What a status change writes on the device row.
STATUS_FIELDS = ("status", "status_changed_at")


def device_status_event(device: Device) -> realtime.Event:
    """The ``device.status`` event for a device's current state."""
    return event_types.device_status(
        ward=device.ward.code,
        device=device.code,
        kind=device.kind,
        status=device.status,
        last_seen_at=device.last_seen_at,
    )


def device_status_change(
    *,
    device: Device,
    status: str,
    at: datetime,
    cause: str,
    from_status: str | None = None,
    save: bool = True,
    edited: bool = False,
) -> StatusChange:
    """Change a device's status at ``at``: record the ``StatusChange`` row, set ``status``
    and ``status_changed_at``, and publish ``device.status`` (the event carries the device
    as it is now). Call inside the caller's transaction, with the device row locked.

    ``from_status`` is the status before, when the caller has already set the new one on
    the device (a registry edit). ``save=False`` writes nothing: ingestion bulk-creates
    the rows and saves every device's state in one UPDATE, and a registry edit saves the
    device with its other fields. ``edited`` stamps ``updated_at`` too (a person's change
    of the registry; a feed's or the sweep's flip leaves it alone).
    """
    change = StatusChange(
        device=device,
        at=at,
        from_status=device.status if from_status is None else from_status,
        to_status=status,
        cause=cause[:200],
    )
    device.status = status
    device.status_changed_at = at
    if save:
        change.save(force_insert=True)
        device.save(update_fields=[*STATUS_FIELDS, *(["updated_at"] if edited else [])])
    realtime.publish(device_status_event(device))
    return change
