"""The Django admin for registry data: every page opens, credentials stay write-only."""

from __future__ import annotations

from typing import Any

import pytest

from cameras.models import CameraDetail, Device
from ioc.models import AuditEntry


@pytest.mark.parametrize(
    "path",
    [
        "/admin/cameras/device/",
        "/admin/cameras/gateway/",
        "/admin/cameras/signalcommand/",
        "/admin/ioc/alert/",
        "/admin/ioc/ward/",
        "/admin/ioc/auditentry/",
        "/admin/ioc/user/",
    ],
)
def test_admin_lists_open(login: Any, demo_city: Any, path: str) -> None:
    assert login("admin").get(path).status_code == 200


@pytest.mark.parametrize("kind", ["camera", "sensor", "signal"])
def test_device_change_page_never_shows_a_stored_password(
    login: Any, demo_city: Any, kind: str
) -> None:
    device = Device.objects.filter(kind=kind).first()
    assert device is not None
    html = login("admin").get(f"/admin/cameras/device/{device.pk}/change/").content.decode()
    assert device.code in html
    for detail in (getattr(device, "camera", None), getattr(device, "signal", None)):
        if detail is not None and detail.password:
            assert detail.password not in html


def test_saving_a_camera_without_a_password_keeps_the_stored_one(
    login: Any, demo_city: Any
) -> None:
    camera = CameraDetail.objects.select_related("device", "device__ward").first()
    assert camera is not None
    device = camera.device
    stored = camera.password
    form = {
        "code": device.code,
        "name": device.name + " (đổi tên)",
        "kind": device.kind,
        "ward": device.ward_id,
        "latitude": device.latitude,
        "longitude": device.longitude,
        "address": device.address,
        "vendor": device.vendor,
        "model_name": device.model_name,
        "installed_on": "",
        "status": device.status,
        "heartbeat_seconds": 60,
        "offline_after_seconds": 180,
        "tags": "[]",
        "gateway": device.gateway_id or "",
        "camera-TOTAL_FORMS": 1,
        "camera-INITIAL_FORMS": 1,
        "camera-MIN_NUM_FORMS": 0,
        "camera-MAX_NUM_FORMS": 1,
        "camera-0-device": device.pk,
        "camera-0-stream_protocol": camera.stream_protocol,
        "camera-0-stream_main_url": camera.stream_main_url,
        "camera-0-stream_sub_url": camera.stream_sub_url,
        "camera-0-snapshot_url": camera.snapshot_url,
        "camera-0-health_url": camera.health_url,
        "camera-0-resolution": camera.resolution,
        "camera-0-recording_mode": camera.recording_mode,
        "camera-0-username": camera.username,
        "camera-0-password": "",
    }
    response = login("admin").post(f"/admin/cameras/device/{device.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    camera.refresh_from_db()
    assert camera.password == stored
    assert camera.device.name.endswith("(đổi tên)")
    entry = AuditEntry.objects.filter(action="device.changed_in_admin").latest("at")
    assert "token_hash" not in (entry.after or {})
