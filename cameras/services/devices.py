"""Registry writes of single devices: create, update, delete (API and CSV import).

A device's ward is never typed in: it is the current ward that contains the device's
point (``ioc.geo.ward_for_point``). A ward given alongside the point is only checked
against it. Every write is validated first, saved in one transaction and audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cameras.choices import DeviceStatus
from cameras.models import Device
from cameras.services.device_state import device_status_change, device_status_event
from ioc import geo, realtime
from ioc.models import User, Ward
from ioc.services.audit import audit_record, snapshot

# The registry fields a person may set; state (last seen, latest values) comes from feeds.
REGISTRY_FIELDS = (
    "name",
    "kind",
    "latitude",
    "longitude",
    "address",
    "vendor",
    "model_name",
    "installed_on",
    "status",
    "tags",
    "heartbeat_seconds",
    "offline_after_seconds",
)
# Left out of audit snapshots: feed state and token hashes are not registry data.
AUDIT_EXCLUDE = ("latest", "token_hash", "token_issued_at")


def ward_for_location(
    *,
    latitude: Any,
    longitude: Any,
    ward_code: str = "",
    wards: Mapping[str, Ward] | None = None,
) -> Ward:
    """The current ward that contains the point; ValidationError when the point is outside
    the city or ``ward_code`` names another ward. ``wards`` (code -> ward) saves a query
    per call when many devices are checked."""
    try:
        code = geo.ward_for_point(Decimal(longitude), Decimal(latitude))
    except (geo.GeometryError, InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationError({"latitude": str(exc) or _("Not a coordinate.")}) from exc
    if code is None:
        raise ValidationError(
            {
                "latitude": _("The point (%(lat)s, %(lon)s) is outside every current ward.")
                % {"lat": latitude, "lon": longitude}
            }
        )
    if ward_code and ward_code != code:
        raise ValidationError(
            {
                "ward": _("The point lies in ward %(found)s, not in ward %(given)s.")
                % {"found": code, "given": ward_code}
            }
        )
    if wards is not None and code in wards:
        return wards[code]
    return Ward.objects.current().get(code=code)


@dataclass
class DevicePlan:
    """A validated, unsaved create or update of one device."""

    device: Device
    created: bool
    changed: list[str] = field(default_factory=list)
    before: dict[str, Any] | None = None
    status_before: str = ""


def _normalised(name: str, value: Any) -> Any:
    """A field value as the model stores it (coordinates with six decimals)."""
    if name in ("latitude", "longitude") and value not in (None, ""):
        try:
            return geo.coordinate(Decimal(str(value)))
        except (InvalidOperation, ValueError) as exc:
            raise ValidationError({name: _("Not a number.")}) from exc
    return value


def device_plan(
    *,
    device: Device | None,
    code: str,
    values: Mapping[str, Any],
    ward_code: str = "",
    wards: Mapping[str, Ward] | None = None,
    validate_unique: bool = True,
) -> DevicePlan:
    """Check a new device (``device`` None) or changes to one, and apply them to an unsaved
    instance. Raises ValidationError (with a message per field) and changes nothing."""
    unknown = set(values) - set(REGISTRY_FIELDS)
    if unknown:
        raise ValidationError({name: _("This field cannot be set.") for name in sorted(unknown)})
    created = device is None
    if device is None:
        device = Device(code=code, status=DeviceStatus.OFFLINE)
        before = None
    else:
        before = snapshot(device, exclude=AUDIT_EXCLUDE)
    plan = DevicePlan(device=device, created=created, before=before, status_before=device.status)
    for name, raw in values.items():
        value = _normalised(name, raw)
        if getattr(device, name) != value:
            if name == "kind" and not created:
                raise ValidationError(
                    {
                        "kind": _("A device's kind cannot change (this one is a %(kind)s).")
                        % {"kind": device.kind}
                    }
                )
            setattr(device, name, value)
            plan.changed.append(name)
    if created or ward_code or {"latitude", "longitude"} & set(plan.changed):
        ward = ward_for_location(
            latitude=device.latitude, longitude=device.longitude, ward_code=ward_code, wards=wards
        )
        if created or device.ward_id != ward.pk:
            device.ward = ward
            if not created:
                plan.changed.append("ward")
    # The ward was just resolved from the point; a gateway is not set here.
    device.full_clean(exclude=["ward", "gateway"], validate_unique=created and validate_unique)
    return plan


def device_plan_apply(plan: DevicePlan, *, actor: User | None, reason: str = "") -> Device:
    """Save a validated plan: the device, its status history, an audit entry and a live
    event when its status is new. Call inside the caller's transaction."""
    device = plan.device
    now = timezone.now()
    if plan.created:
        device.status_changed_at = now
        device.save()
        realtime.publish(device_status_event(device))  # a new device: no change to record
        action = "device.created"
    elif plan.changed:
        fields = list(plan.changed)
        if "status" in plan.changed:
            # Saved here with the other fields, so the change is recorded unsaved.
            device_status_change(
                device=device,
                status=device.status,
                from_status=plan.status_before,
                at=now,
                cause=f"{actor.get_username() if actor else 'system'}: {reason or 'edited'}",
                save=False,
            ).save(force_insert=True)
            fields.append("status_changed_at")
        device.save(update_fields=[*fields, "updated_at"])
        action = "device.updated"
    else:
        return device
    audit_record(
        actor=actor,
        action=action,
        obj=device,
        before=plan.before,
        after=snapshot(device, exclude=AUDIT_EXCLUDE),
        ward_code=device.ward.code,
        reason=reason,
    )
    return device


@transaction.atomic
def device_create(
    *, actor: User, code: str, values: Mapping[str, Any], ward_code: str = "", reason: str = ""
) -> Device:
    """Register one device; its ward is derived from its point."""
    plan = device_plan(device=None, code=code, values=values, ward_code=ward_code)
    return device_plan_apply(plan, actor=actor, reason=reason)


@transaction.atomic
def device_update(
    *,
    actor: User,
    device: Device,
    values: Mapping[str, Any],
    ward_code: str = "",
    reason: str = "",
) -> Device:
    """Change a device's registry fields; a new point moves it to the ward containing it."""
    locked = Device.objects.select_for_update().select_related("ward").get(pk=device.pk)
    plan = device_plan(device=locked, code=locked.code, values=values, ward_code=ward_code)
    return device_plan_apply(plan, actor=actor, reason=reason)


@transaction.atomic
def device_delete(*, actor: User, device: Device, reason: str = "") -> None:
    """Remove a device from the registry with its history (readings, events, alerts).

    The audit entry keeps what the device was.
    """
    locked = Device.objects.select_for_update().select_related("ward").get(pk=device.pk)
    audit_record(
        actor=actor,
        action="device.deleted",
        obj=locked,
        before=snapshot(locked, exclude=AUDIT_EXCLUDE),
        ward_code=locked.ward.code,
        reason=reason,
    )
    locked.delete()
