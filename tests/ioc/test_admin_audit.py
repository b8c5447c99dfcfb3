"""Every write through the admin leaves an audit entry with before and after: inlines
(credentials masked but seen to change), many-to-many fields, deletes, passwords; and
logins, failed logins and logouts are recorded too."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory

from cameras.models import CameraDetail, Device
from ioc.admin import AuditedAdmin
from ioc.models import AuditEntry, User
from tests.support import DEMO_PASSWORD, camera_change_form, example_user, example_ward


def test_camera_credentials_edited_in_admin_are_recorded_as_changed_but_masked(
    login: Any, demo_city: Any
) -> None:
    camera = CameraDetail.objects.select_related("device").first()
    assert camera is not None
    new_password = "Mat-khau-moi-2026"
    new_stream = f"rtsp://viewer:{new_password}@10.20.0.9:554/main"
    response = login("admin").post(
        f"/admin/cameras/device/{camera.device.pk}/change/",
        camera_change_form(
            camera.device, camera, password=new_password, stream_main_url=new_stream
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.filter(action="device.changed_in_admin").latest("id")
    assert entry.before is not None and entry.after is not None
    before, after = entry.before["cameradetail"][0], entry.after["cameradetail"][0]
    assert before["password"] != after["password"]
    assert after["password"].startswith("masked:")
    assert after["stream_main_url"].startswith("rtsp://viewer:masked:")
    assert after["stream_main_url"].endswith("@10.20.0.9:554/main")
    assert new_password not in json.dumps([entry.before, entry.after])


def test_user_wards_changed_in_admin_show_the_new_wards_after(login: Any, demo_city: Any) -> None:
    official = example_user("official1")
    old_ward, new_ward = example_ward("own"), example_ward("third")
    form = {
        "username": official.username,
        "first_name": official.first_name,
        "last_name": official.last_name,
        "email": official.email,
        "is_active": "on",
        "role": official.role,
        "wards": [new_ward.pk],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "01/01/2026",
        "date_joined_1": "08:00:00",
    }
    response = login("admin").post(f"/admin/ioc/user/{official.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = AuditEntry.objects.filter(action="user.changed_in_admin").latest("id")
    assert entry.before is not None and entry.after is not None
    assert entry.before["wards"] == [str(old_ward)]
    assert entry.after["wards"] == [str(new_ward)]
    assert "password" not in entry.after


def test_group_permissions_changed_in_admin_are_recorded(login: Any, demo_city: Any) -> None:
    permission = Permission.objects.get(codename="add_signalcommand")
    response = login("admin").post(
        "/admin/auth/group/add/", {"name": "Điều khiển đèn", "permissions": [permission.pk]}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    group = Group.objects.get(name="Điều khiển đèn")
    entry = AuditEntry.objects.get(action="group.added_in_admin", object_id=str(group.pk))
    assert entry.after is not None and entry.after["permissions"] == [str(permission)]


def test_device_deleted_in_admin_leaves_an_entry_with_what_it_was(
    login: Any, demo_city: Any
) -> None:
    device = Device.objects.filter(kind="sensor").order_by("code").first()
    assert device is not None
    response = login("admin").post(f"/admin/cameras/device/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not Device.objects.filter(pk=device.pk).exists()
    entry = AuditEntry.objects.get(action="device.deleted_in_admin", object_id=str(device.pk))
    assert entry.actor_label == "admin"
    assert entry.before is not None and entry.before["code"] == device.code
    assert "sensorthreshold" in entry.before


def test_password_changed_in_admin_is_recorded_without_the_password(
    login: Any, demo_city: Any
) -> None:
    official = example_user("official2")
    new_password = "Mot-mat-khau-rat-dai-2026"
    response = login("admin").post(
        f"/admin/ioc/user/{official.pk}/password/",
        {"password1": new_password, "password2": new_password, "usable_password": "true"},
        REMOTE_ADDR="10.9.8.7",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(action="user.password_changed", object_id=str(official.pk))
    assert entry.actor_label == "admin"
    assert entry.ip_address == "10.9.8.7"
    official.refresh_from_db()
    assert new_password not in json.dumps(entry.after)
    assert official.password not in json.dumps(entry.after)


def test_login_failed_login_and_logout_are_recorded(demo_city: Any) -> None:
    client = Client()
    client.post(
        "/accounts/login/",
        {"username": "official1", "password": "sai-mat-khau"},
        REMOTE_ADDR="10.7.7.7",
    )
    failed = AuditEntry.objects.get(action="user.login_failed")
    assert failed.after == {"username": "official1", "locked_out": False}
    assert failed.ip_address == "10.7.7.7"
    assert "sai-mat-khau" not in json.dumps([failed.before, failed.after, failed.reason])

    client.post(
        "/accounts/login/",
        {"username": "official1", "password": DEMO_PASSWORD},
        REMOTE_ADDR="10.7.7.7",
    )
    assert AuditEntry.objects.get(action="user.logged_in").actor_label == "official1"
    client.post("/accounts/logout/", REMOTE_ADDR="10.7.7.7")
    assert AuditEntry.objects.get(action="user.logged_out").actor_label == "official1"


def test_failed_login_with_an_unknown_username_records_what_was_tried(demo_city: Any) -> None:
    Client().post("/accounts/login/", {"username": "khong-co-ai", "password": "x"})
    entry = AuditEntry.objects.get(action="user.login_failed")
    assert entry.object_repr == "khong-co-ai"
    assert entry.object_id == ""


def test_every_admin_that_can_write_is_audited(demo_city: Any) -> None:
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(username="admin")
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, AuditedAdmin):
            continue
        writes = (
            model_admin.has_add_permission(request),
            model_admin.has_change_permission(request),
            model_admin.has_delete_permission(request),
        )
        assert not any(writes), f"{model._meta.label} is writable but not audited: {writes}"
