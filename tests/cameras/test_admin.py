"""The Django admin for registry data: every page opens, credentials stay write-only."""

from __future__ import annotations

from typing import Any

import pytest

from cameras.models import CameraDetail, Device
from ioc.models import AuditEntry
from tests.support import camera_change_form


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
    form = camera_change_form(device, camera)
    form["name"] = device.name + " (đổi tên)"
    response = login("admin").post(f"/admin/cameras/device/{device.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    camera.refresh_from_db()
    assert camera.password == stored
    assert camera.device.name.endswith("(đổi tên)")
    entry = AuditEntry.objects.filter(action="device.changed_in_admin").latest("at")
    assert "token_hash" not in (entry.after or {})


def test_an_administrator_sets_a_camera_to_be_transcoded_and_the_audit_says_before_and_after(
    login: Any, demo_city: Any, settings: Any
) -> None:
    settings.IOC_VIDEO_MAX_TRANSCODES = 3
    camera = CameraDetail.objects.select_related("device", "device__ward").first()
    assert camera is not None and not camera.transcode_main
    device = camera.device
    admin = login("admin")
    admin.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the help's English words
    page = admin.get(f"/admin/cameras/device/{device.pk}/change/").content.decode()
    assert 'name="camera-0-transcode_main"' in page
    assert "12 percent of one CPU core" in page and "0.3 percent" in page  # its cost
    assert "at most 3 cameras at once per video relay" in page  # and this server's limit

    form = camera_change_form(device, camera, transcode_main="on")
    response = admin.post(f"/admin/cameras/device/{device.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    camera.refresh_from_db()
    assert camera.transcode_main is True
    entry = AuditEntry.objects.filter(action="device.changed_in_admin").latest("at")
    assert entry.actor is not None and entry.actor.username == "admin"
    assert entry.before is not None and entry.after is not None
    assert entry.before["cameradetail"][0]["transcode_main"] is False
    assert entry.after["cameradetail"][0]["transcode_main"] is True


def test_saving_a_transcoded_camera_again_keeps_it_transcoded(login: Any, demo_city: Any) -> None:
    camera = CameraDetail.objects.select_related("device", "device__ward").first()
    assert camera is not None
    CameraDetail.objects.filter(pk=camera.pk).update(transcode_main=True)
    camera.refresh_from_db()
    device = camera.device
    form = camera_change_form(device, camera)
    form["name"] = device.name + " (đổi tên)"

    response = login("admin").post(f"/admin/cameras/device/{device.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    camera.refresh_from_db()
    assert camera.transcode_main is True
