"""cameras.services.device_status_set: a reasoned, audited status change, published on commit."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device
from cameras.services import device_status_set
from ioc.models import AuditEntry, User
from ioc.realtime import CITY_GROUP, ward_group
from tests.support import GroupListener

REASON = "Thay ống kính, bảo trì định kỳ"


@pytest.fixture
def camera(demo_city: None) -> Device:
    """An online demo camera."""
    device = Device.objects.filter(kind=DeviceKind.CAMERA, status=DeviceStatus.ONLINE).first()
    assert device is not None
    return device


def status_audits(device: Device) -> Any:
    return AuditEntry.objects.filter(action="device.status_set", object_id=str(device.pk))


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_status_change_without_a_reason_is_refused_and_changes_nothing(
    reason: str, operator: User, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(ValidationError) as raised,
    ):
        device_status_set(
            actor=operator, device=camera, status=DeviceStatus.MAINTENANCE, reason=reason
        )

    assert raised.value.message_dict == {"reason": ["Say why the status is being changed."]}
    camera.refresh_from_db()
    assert camera.status == DeviceStatus.ONLINE
    assert not status_audits(camera).exists()
    assert callbacks == []


def test_status_change_is_saved(operator: User, camera: Device) -> None:
    result = device_status_set(
        actor=operator, device=camera, status=DeviceStatus.MAINTENANCE, reason=REASON
    )

    assert result.status == DeviceStatus.MAINTENANCE
    camera.refresh_from_db()
    assert camera.status == DeviceStatus.MAINTENANCE


def test_status_change_is_audited_with_before_after_ward_and_reason(
    operator: User, camera: Device
) -> None:
    device_status_set(
        actor=operator, device=camera, status=DeviceStatus.MAINTENANCE, reason=f"  {REASON} "
    )

    entry = status_audits(camera).get()
    assert entry.actor == operator
    assert entry.actor_label == "operator"
    assert entry.object_type == "cameras.device"
    assert entry.object_repr == str(camera)
    assert entry.before == {"status": "online"}
    assert entry.after == {"status": "maintenance"}
    assert entry.ward_code == camera.ward.code
    assert entry.reason == REASON


def test_status_change_publishes_device_status_on_commit(
    operator: User,
    camera: Device,
    listener: GroupListener,
    django_capture_on_commit_callbacks: Any,
) -> None:
    city = listener.join(CITY_GROUP)
    ward = listener.join(ward_group(camera.ward.code))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        device_status_set(actor=operator, device=camera, status=DeviceStatus.FAULT, reason=REASON)

    listener.assert_silent(city)  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()

    event = listener.receive(ward)["event"]
    city_copy = listener.receive(city)["event"]
    # Each group's copy carries its own group name and sequence number; the rest is equal.
    assert (event["group"], city_copy["group"]) == (f"ward.{camera.ward.code}", "city")
    assert without_sequence(city_copy) == without_sequence(event)
    assert (event["type"], event["ward"]) == ("device.status", camera.ward.code)
    assert event["data"]["device"] == camera.code
    assert event["data"]["status"] == "fault"
    assert event["data"]["kind"] == "camera"


def test_setting_the_same_status_twice_audits_and_publishes_once(
    operator: User, camera: Device, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for _ in range(2):
            device_status_set(
                actor=operator, device=camera, status=DeviceStatus.MAINTENANCE, reason=REASON
            )

    assert status_audits(camera).count() == 1
    assert len(callbacks) == 1


def test_setting_the_current_status_writes_nothing(operator: User, camera: Device) -> None:
    updated_at = camera.updated_at

    result = device_status_set(
        actor=operator, device=camera, status=DeviceStatus.ONLINE, reason=REASON
    )

    assert result.status == DeviceStatus.ONLINE
    assert not status_audits(camera).exists()
    camera.refresh_from_db()
    assert camera.updated_at == updated_at


def without_sequence(event: dict[str, Any]) -> dict[str, Any]:
    """An event without the per-group fields (group, seq, epoch)."""
    return {key: value for key, value in event.items() if key not in {"group", "seq", "epoch"}}
