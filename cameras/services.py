"""Writes of the device registry (house rule 2): each audited and published live."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from cameras.choices import DeviceStatus
from cameras.models import Device
from ioc import realtime
from ioc.models import User
from ioc.services import audit_record


def device_status_event(device: Device) -> realtime.Event:
    """The ``device.status`` event for a device's current state."""
    return realtime.Event(
        type=realtime.EventType.DEVICE_STATUS,
        ward=device.ward.code,
        data={
            "device": device.code,
            "kind": device.kind,
            "status": device.status,
            "last_seen_at": device.last_seen_at,
        },
    )


@transaction.atomic
def device_status_set(*, actor: User, device: Device, status: DeviceStatus, reason: str) -> Device:
    """Set a device's status by hand (for example into or out of maintenance).

    A reason is required: it is what the next shift reads in the audit log.
    """
    if not reason.strip():
        raise ValidationError({"reason": "Say why the status is being changed."})
    device = Device.objects.select_for_update().select_related("ward").get(pk=device.pk)
    if device.status == status:
        return device
    before = {"status": device.status}
    device.status = status
    device.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="device.status_set",
        obj=device,
        before=before,
        after={"status": status.value},
        ward_code=device.ward.code,
        reason=reason.strip(),
    )
    realtime.publish(device_status_event(device))
    return device


@transaction.atomic
def devices_register(
    *, devices: list[Device], actor: User | None = None, actor_label: str = ""
) -> list[Device]:
    """Add new devices to the registry in one go, each validated and audited."""
    for device in devices:
        device.full_clean(validate_unique=False)
    codes = [device.code for device in devices]
    taken = set(Device.objects.filter(code__in=codes).values_list("code", flat=True))
    if taken or len(set(codes)) != len(codes):
        raise ValidationError({"code": f"Device codes already in use: {sorted(taken)[:10]}"})
    created = Device.objects.bulk_create(devices, batch_size=500)
    for device in created:
        audit_record(
            actor=actor,
            actor_label=actor_label,
            action="device.registered",
            obj=device,
            after={"code": device.code, "kind": device.kind, "status": device.status},
            ward_code=device.ward.code,
        )
    return created
