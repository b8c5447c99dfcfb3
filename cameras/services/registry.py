"""Registry writes: devices, tokens, manual status and the offline sweep (each audited or
recorded, and published live)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cameras.choices import DeviceStatus
from cameras.models import Device, Gateway
from cameras.services.device_state import device_status_change
from ioc.choices import AlertKind, Severity
from ioc.models import User
from ioc.services.alerts import alert_raise
from ioc.services.audit import audit_record
from ioc.tokens import secret_hash, secret_new


@transaction.atomic
def token_issue(*, owner: Device | Gateway, actor_label: str, actor: User | None = None) -> str:
    """Issue a new token for a device or gateway (the old one stops working) and return it:
    it is shown once and stored only as a hash."""
    token = secret_new()
    owner.token_hash = secret_hash(token)
    owner.token_issued_at = timezone.now()
    owner.save(update_fields=["token_hash", "token_issued_at"])
    ward = getattr(owner, "ward", None)
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action=f"{owner._meta.model_name}.token_issued",
        obj=owner,
        after={"token_issued_at": owner.token_issued_at.isoformat()},
        ward_code=ward.code if ward is not None else "",
    )
    return token


@transaction.atomic
def device_status_set(*, actor: User, device: Device, status: DeviceStatus, reason: str) -> Device:
    """Set a device's status by hand (for example into or out of maintenance).

    A reason is required: it is what the next shift reads in the audit log.
    """
    if not reason.strip():
        raise ValidationError({"reason": "Say why the status is being changed."})
    device = Device.objects.select_for_update(of=("self",)).select_related("ward").get(pk=device.pk)
    if device.status == status:
        return device
    before = {"status": device.status}
    device_status_change(
        device=device,
        status=status,
        at=timezone.now(),
        cause=f"{actor.get_username()}: {reason.strip()}",
        edited=True,
    )
    audit_record(
        actor=actor,
        action="device.status_set",
        obj=device,
        before=before,
        after={"status": status.value},
        ward_code=device.ward.code,
        reason=reason.strip(),
    )
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


def devices_offline_sweep(*, now: datetime | None = None) -> list[str]:
    """Mark devices offline that have been silent longer than their tolerance.

    Only online and faulty devices flip, once (a device already offline stays so quietly);
    the next good report brings it back (cameras.services.ingest). Returns their codes.
    """
    now = now or timezone.now()
    shortest = (
        Device.objects.order_by("offline_after_seconds")
        .values_list("offline_after_seconds", flat=True)
        .first()
    )
    if shortest is None:
        return []
    candidates = Device.objects.filter(
        status__in=[DeviceStatus.ONLINE, DeviceStatus.FAULT],
        last_seen_at__lt=now - timedelta(seconds=shortest),
    ).values_list("pk", "last_seen_at", "last_received_at", "offline_after_seconds")
    silent = []
    for pk, seen, received, tolerance in candidates:
        heard = received or seen
        if heard is not None and heard < now - timedelta(seconds=tolerance):
            silent.append(pk)
    flipped: list[str] = []
    for start in range(0, len(silent), 500):
        with transaction.atomic():
            for device in (
                Device.objects.select_for_update(of=("self",))
                .select_related("ward")
                .filter(
                    pk__in=silent[start : start + 500],
                    status__in=[DeviceStatus.ONLINE, DeviceStatus.FAULT],
                )
            ):
                with translation.override("vi"):
                    title = _("%(device)s is offline") % {"device": device.name}
                alert_raise(
                    ward=device.ward,
                    device=device,
                    kind=AlertKind.OFFLINE,
                    cause="offline",
                    severity=Severity.WARNING,
                    title=title,
                    at=now,
                    data={"last_seen_at": (device.last_received_at or device.last_seen_at)},
                )
                # After the alert, so that browsers get alert.raised before device.status.
                device_status_change(
                    device=device,
                    status=DeviceStatus.OFFLINE,
                    at=now,
                    cause="no report within tolerance",
                )
                flipped.append(device.code)
    return flipped
