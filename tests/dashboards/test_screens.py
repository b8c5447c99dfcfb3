"""The /ops/ screens of issue 4: the side panel's JSON, the camera wall, the per-day
report and the CSV exports, as a role x endpoint matrix, with their content and pinned
query counts."""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from cameras.choices import DeviceKind, DeviceStatus, StreamProtocol
from cameras.models import CameraDetail, Device, SignalDetail
from cameras.services.polling import snapshot_path
from cameras.video.labels import video_labels
from dashboards.panel_views import panel_labels
from ioc.choices import AlertStatus, Severity
from ioc.models import Alert, Ward
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import AlertFactory, camera_code, example_user, open_at

pytestmark = pytest.mark.django_db


def device_in(ward: str, kind: str) -> Device:
    """The first demo device of a kind in a ward (the demo's first sensor is moved into
    the ward when it has none)."""
    device = Device.objects.filter(ward__code=ward, kind=kind).order_by("code").first()
    if device is None and kind == DeviceKind.SENSOR:
        device = Device.objects.filter(kind=kind).order_by("code").first()
        assert device is not None
        Device.objects.filter(pk=device.pk).update(ward=Ward.objects.current().get(code=ward))
        device.refresh_from_db()
    assert device is not None, (ward, kind)
    return device


def alert_on(device: Device, title: str, **extra: Any) -> Alert:
    return AlertFactory(device=device, cause=f"fault:{title}", title=title, **extra)


def read_csv(response: Any) -> list[list[str]]:
    """A CSV download's rows; it must start with a BOM (Excel reads UTF-8 then)."""
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


# --- Role x endpoint matrix ---------------------------------------------------------------


def own_and_other_paths() -> list[tuple[str, str]]:
    """(path in official1's ward, the same path in another ward) for every new endpoint."""
    own_camera, other_camera = device_in(OWN, "camera"), device_in(OTHER, "camera")
    return [
        (f"/ops/panel/{own_camera.code}/", f"/ops/panel/{other_camera.code}/"),
        (f"/ops/cameras/wall/?ward={OWN}", f"/ops/cameras/wall/?ward={OTHER}"),
        (
            f"/ops/cameras/wall/export.csv?ward={OWN}",
            f"/ops/cameras/wall/export.csv?ward={OTHER}",
        ),
        (f"/ops/wards/{OWN}/export.csv", f"/ops/wards/{OTHER}/export.csv"),
    ]


def test_city_operator_opens_every_new_screen_in_any_ward(login: Any) -> None:
    client = login("operator")
    for own, other in own_and_other_paths():
        assert client.get(own).status_code == 200, own
        assert client.get(other).status_code == 200, other
    for path in ("/ops/reports/", "/ops/reports/export.csv", "/ops/alerts/export.csv"):
        assert client.get(path).status_code == 200, path
    assert client.get("/ops/wards/export.csv").status_code == 200


def test_ward_official_gets_404_for_another_wards_panel_wall_and_exports(login: Any) -> None:
    client = login("official1")
    for own, other in own_and_other_paths():
        assert client.get(own).status_code == 200, own
        assert client.get(other).status_code == 404, other


def test_department_staff_read_the_new_screens(login: Any) -> None:
    client = login("department1")
    for own, other in own_and_other_paths():
        assert client.get(own).status_code == 200, own
        assert client.get(other).status_code == 200, other


@pytest.mark.parametrize(
    "path",
    [
        "/ops/panel/CAM-001/",
        "/ops/cameras/wall/",
        "/ops/cameras/wall/export.csv",
        f"/ops/cameras/wall/{camera_code(OWN)}.jpg",
        "/ops/reports/",
        "/ops/reports/export.csv",
        "/ops/alerts/export.csv",
        "/ops/wards/export.csv",
        f"/ops/wards/{OWN}/export.csv",
    ],
)
def test_anonymous_visitor_is_sent_to_the_login_page(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_ops_navigation_links_the_camera_wall_and_reports(login: Any) -> None:
    html = login("operator").get("/ops/wards/").content.decode()
    assert 'href="/ops/cameras/wall/"' in html
    assert 'href="/ops/reports/"' in html
    assert 'href="/ops/wards/export.csv"' in html


# --- Side panel ---------------------------------------------------------------------------


def panel(client: Client, code: str, part: str = "") -> dict[str, Any]:
    """The side panel's answer for device ``code`` (JSON, never cached)."""
    response = client.get(f"/ops/panel/{code}/" + (f"?part={part}" if part else ""))
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.json()


def test_panel_answers_json_about_a_device_of_the_users_ward_only(login: Any) -> None:
    device = device_in(OWN, "camera")
    other = device_in(OTHER, "camera")
    client = login("official1")
    answer = panel(client, device.code)
    assert set(answer) == {"device", "camera", "readings", "signal", "alerts"}
    assert answer["device"] == {
        "code": device.code,
        "name": device.name,
        "kind": "camera",
        "kind_label": str(DeviceKind.CAMERA.label),
        "status": device.status,
        "status_label": device.get_status_display(),
        "ward": {"code": OWN, "title": device.ward.title},
        "url": f"/ops/devices/{device.code}/",
    }
    assert answer["readings"] is None and answer["signal"] is None
    assert set(answer["camera"]) == {
        "snapshot_url",
        "refresh_seconds",
        "stream_protocol",
        "stream_protocol_label",
        "live",
        "stream_url",
        "live_script",
        "hls_url",
        "hls_script",
    }
    assert answer["alerts"] == {"may_handle": True, "items": []}
    assert client.get(f"/ops/panel/{other.code}/").status_code == 404
    assert client.get(f"/ops/panel/{other.code}/?part=alerts").status_code == 404
    assert client.get("/ops/panel/NO-SUCH-DEVICE/").status_code == 404


def test_panel_shows_alert_actions_to_operators_and_none_to_department_staff(
    login: Any,
) -> None:
    device = device_in(OWN, "sensor")
    alert = alert_on(device, "Bụi mịn vượt ngưỡng", occurrences=3)
    taken = alert_on(
        device, "Mất kết nối", status=AlertStatus.ACKNOWLEDGED, assignee=example_user("operator")
    )
    items = {item["id"]: item for item in panel(login("operator"), device.code)["alerts"]["items"]}
    item, other = items[alert.pk], items[taken.pk]
    assert item["title"] == "Bụi mịn vượt ngưỡng"
    assert (item["severity"], item["status"], item["occurrences"]) == ("critical", "active", 3)
    assert item["severity_label"] == str(Severity.CRITICAL.label)
    assert item["actions"] == {
        action: f"/api/v1/alerts/{alert.pk}/{action}"
        for action in ("acknowledge", "assign", "resolve")
    }
    assert item["open_incident_url"] == f"/ops/incidents/from-alert/{alert.pk}/"
    assert item["incident_url"] is None
    # Acknowledged already: it can be taken or resolved, not acknowledged again.
    assert set(other["actions"]) == {"assign", "resolve"}
    assert other["assignee"] == example_user("operator").get_full_name()
    staff = panel(login("department1"), device.code)["alerts"]
    assert staff["may_handle"] is False
    assert {a["id"] for a in staff["items"]} == {alert.pk, taken.pk}
    assert all(a["actions"] == {} and a["open_incident_url"] is None for a in staff["items"])


def test_panel_links_an_alert_to_its_incident(login: Any) -> None:
    device = device_in(OWN, "camera")
    incident = open_at(OWN)
    alert_on(device, "Camera bị che", incident=incident)
    [item] = panel(login("official1"), device.code)["alerts"]["items"]
    assert item["incident_url"] == f"/ops/incidents/{incident.pk}/"
    assert item["open_incident_url"] is None


def test_panel_of_a_sensor_carries_its_chart_config_for_a_few_hours(login: Any) -> None:
    device = device_in(OWN, "sensor")
    readings = panel(login("official1"), device.code)["readings"]
    assert readings["hours"] == 6
    chart = readings["chart"]
    assert chart["url"] == f"/api/v1/devices/{device.code}/readings"
    assert chart["hours"] == 6
    assert chart["metrics"] and set(chart["metrics"][0]) == {"metric", "unit", "low", "high"}
    assert set(chart["labels"]) >= {"time", "avg", "min", "max", "empty", "error"}


def test_panel_plays_an_rtsp_camera_live_and_an_hls_only_camera_with_hls(login: Any) -> None:
    hls = (
        CameraDetail.objects.filter(
            device__ward__code=OWN, stream_protocol=StreamProtocol.HLS
        ).first()
        or CameraDetail.objects.filter(device__ward__code=OWN).first()
    )
    assert hls is not None
    hls.stream_protocol = StreamProtocol.HLS
    hls.stream_main_url = "http://viewer:secret@cam.example/live/index.m3u8"
    hls.stream_sub_url = ""
    hls.snapshot_url = "http://viewer:secret@cam.example/snapshot.jpg"
    hls.save()
    rtsp = CameraDetail.objects.filter(device__ward__code=OWN).exclude(pk=hls.pk).first()
    assert rtsp is not None
    rtsp.stream_protocol = StreamProtocol.RTSP
    rtsp.stream_main_url = "rtsp://viewer:secret@10.1.1.5:554/main"
    rtsp.snapshot_url = ""
    rtsp.save()
    client = login("official1")
    response = client.get(f"/ops/panel/{hls.device.code}/")
    assert "secret" not in response.content.decode()
    camera = response.json()["camera"]
    assert camera["hls_url"] == "http://cam.example/live/index.m3u8"  # no credentials
    assert camera["hls_script"].endswith("dashboards/vendor/hls/hls.min.js")
    assert (camera["live"], camera["stream_url"], camera["live_script"]) == (False, None, None)
    assert camera["snapshot_url"] == f"/ops/devices/{hls.device.code}/snapshot.jpg"
    assert camera["refresh_seconds"] == 5
    response = client.get(f"/ops/panel/{rtsp.device.code}/")
    assert "secret" not in response.content.decode() and "10.1.1.5" not in response.content.decode()
    other = response.json()["camera"]
    # Played live through the relay: the viewing address comes from the stream view.
    assert other["live"] is True
    assert other["stream_url"] == f"/ops/devices/{rtsp.device.code}/stream"
    assert other["live_script"].endswith("cameras/vendor/mpegts/mpegts.js")
    assert other["hls_url"] is None and other["hls_script"] is None
    assert (other["stream_protocol"], other["stream_protocol_label"]) == ("rtsp", "RTSP")
    assert other["snapshot_url"] is None


def test_panel_plays_an_hls_camera_with_an_rtsp_sub_stream_live(login: Any) -> None:
    """The relay plays what the camera gives over RTSP; HLS only when there is no RTSP."""
    camera = CameraDetail.objects.filter(device__ward__code=OWN).first()
    assert camera is not None
    camera.stream_protocol = StreamProtocol.HLS
    camera.stream_main_url = "http://cam.example/live/index.m3u8"
    camera.stream_sub_url = "rtsp://10.1.1.5:554/sub"
    camera.save()
    answer = panel(login("official1"), camera.device.code)["camera"]
    assert answer["live"] is True and answer["hls_url"] is None


def test_panel_labels_carry_the_live_players_labels() -> None:
    labels = panel_labels()
    assert labels["video"] == video_labels()
    assert {"snapshotAlt", "noImage", "fullscreen"} <= set(labels)


def test_panel_offers_signal_commands_only_to_those_allowed_to_command(login: Any) -> None:
    signal = device_in(OWN, "signal")
    operator = panel(login("operator"), signal.code)["signal"]
    assert operator["may_command"] is True
    assert operator["commands_url"] == f"/api/v1/devices/{signal.code}/commands"
    form = operator["form"]
    assert [a["value"] for a in form["actions"]] == ["set_plan", "flash", "auto"]
    assert form["action"] == "set_plan"
    assert form["duration_minutes"] == {"min": 1, "max": 240, "default": 30}
    official = panel(login("official1"), signal.code)["signal"]
    assert official["may_command"] is False
    assert official["form"] is None and official["commands_url"] is None
    user = example_user("official1")
    user.user_permissions.add(Permission.objects.get(codename="add_signalcommand"))
    assert panel(login("official1"), signal.code)["signal"]["may_command"] is True
    assert panel(login("department1"), signal.code)["signal"]["form"] is None


def test_panel_of_a_signal_shows_its_state_but_never_the_controllers_address(
    login: Any,
) -> None:
    signal = device_in(OWN, "signal")
    SignalDetail.objects.update_or_create(
        device=signal,
        defaults={
            "intersection": "Ngã tư Kiểm Thử",
            "controller_url": "http://10.0.0.7/api",
            "username": "admin",
            "password": "s3cret-controller",
            "plan": "P2",
            "faults": ["lamp_out"],
            "comm_status": "lost",
        },
    )
    response = login("operator").get(f"/ops/panel/{signal.code}/")
    body = response.content.decode()
    assert "10.0.0.7" not in body and "s3cret-controller" not in body
    state = response.json()["signal"]["state"]
    assert state["intersection"] == "Ngã tư Kiểm Thử"
    assert (state["plan"], state["faults"], state["comm_status"]) == ("P2", ["lamp_out"], "lost")
    assert set(state) == {
        "intersection",
        "mode",
        "mode_label",
        "plan",
        "phase",
        "comm_status",
        "comm_status_label",
        "state_at",
        "faults",
    }


def test_panel_parts_answer_only_that_part(login: Any) -> None:
    device = device_in(OWN, "camera")
    alert_on(device, "Camera bị che")
    client = login("official1")
    alerts = panel(client, device.code, "alerts")
    assert list(alerts) == ["alerts"]
    assert [item["title"] for item in alerts["alerts"]["items"]] == ["Camera bị che"]
    assert panel(client, device.code, "signal") == {"signal": None}
    signal = device_in(OWN, "signal")
    assert list(panel(client, signal.code, "signal")["signal"]) == [
        "state",
        "live_command",
        "may_command",
        "commands_url",
        "form",
    ]
    assert client.get(f"/ops/panel/{device.code}/?part=x").status_code == 404


def test_panel_sets_the_csrf_cookie_its_actions_send_back(login: Any) -> None:
    device = device_in(OWN, "camera")
    response = login("official1").get(f"/ops/panel/{device.code}/")
    assert response.cookies["csrftoken"].value


def test_panel_query_count_does_not_grow_with_the_number_of_alerts(
    login: Any, django_assert_num_queries: Any
) -> None:
    device = device_in(OWN, "camera")
    client = login("official1")
    client.get(f"/ops/panel/{device.code}/")
    for n in range(5):
        alert_on(device, f"Sự cố {n}", assignee=example_user("operator"))
    # session, user, device (ward, camera, signal joined), thresholds, status history,
    # events, open alerts with assignees
    with django_assert_num_queries(7):
        answer = client.get(f"/ops/panel/{device.code}/").json()
    assert len(answer["alerts"]["items"]) == 5


# --- Camera wall --------------------------------------------------------------------------


def test_wall_defaults_to_the_officials_ward_and_marks_offline_cameras(login: Any) -> None:
    cameras = list(Device.objects.filter(ward__code=OWN, kind=DeviceKind.CAMERA).order_by("code"))
    Device.objects.filter(pk=cameras[0].pk).update(status=DeviceStatus.OFFLINE)
    html = login("official1").get("/ops/cameras/wall/?grid=4").content.decode()
    for camera in cameras[:16]:
        assert f'data-tile="{camera.code}"' in html
    assert f'class="wall-tile status-offline down" data-tile="{cameras[0].code}"' in html
    assert f'href="/ops/devices/{cameras[0].code}/"' in html
    assert f'src="/ops/cameras/wall/{cameras[0].code}.jpg"' in html
    assert not Device.objects.filter(kind=DeviceKind.CAMERA, ward__code=OTHER, code__in=[]).exists()
    other = device_in(OTHER, "camera")
    assert f'data-tile="{other.code}"' not in html


def test_wall_tile_serves_the_pollers_fresh_still_and_asks_the_camera_otherwise(
    login: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    camera = device_in(OWN, "camera")
    CameraDetail.objects.filter(device=camera).update(snapshot_url="http://127.0.0.1:9/x.jpg")
    client = login("official1")
    # No polled still: the proxy asks the camera, which does not answer here.
    assert client.get(f"/ops/cameras/wall/{camera.code}.jpg").status_code == 502
    path = snapshot_path(camera.code)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xd8\xff\xe0polled\xff\xd9")
    fresh = client.get(f"/ops/cameras/wall/{camera.code}.jpg")
    assert fresh.status_code == 200
    assert fresh["Content-Type"] == "image/jpeg"
    assert b"".join(fresh.streaming_content) == b"\xff\xd8\xff\xe0polled\xff\xd9"
    old = time.time() - 600
    os.utime(path, (old, old))
    assert client.get(f"/ops/cameras/wall/{camera.code}.jpg").status_code == 502
    other = device_in(OTHER, "camera")
    assert client.get(f"/ops/cameras/wall/{other.code}.jpg").status_code == 404
    sensor = device_in(OWN, "sensor")
    assert client.get(f"/ops/cameras/wall/{sensor.code}.jpg").status_code == 404


def test_wall_of_chosen_codes_keeps_their_order_and_drops_other_wards(login: Any) -> None:
    own = list(
        Device.objects.filter(ward__code=OWN, kind=DeviceKind.CAMERA)
        .order_by("-code")
        .values_list("code", flat=True)[:2]
    )
    other = device_in(OTHER, "camera").code
    sensor = device_in(OWN, "sensor").code
    codes = ",".join([own[0], other, sensor, own[1]])
    html = login("official1").get(f"/ops/cameras/wall/?codes={codes}").content.decode()
    assert html.index(f'data-tile="{own[0]}"') < html.index(f'data-tile="{own[1]}"')
    assert f'data-tile="{other}"' not in html
    assert f'data-tile="{sensor}"' not in html


def test_wall_pages_by_grid_size(login: Any) -> None:
    client = login("operator")
    total = Device.objects.filter(kind=DeviceKind.CAMERA).count()
    first = client.get("/ops/cameras/wall/?grid=2").content.decode()
    assert first.count("data-tile=") == 4
    assert 'rel="next"' in first
    last_page = -(-total // 9)
    last = client.get(f"/ops/cameras/wall/?grid=3&page={last_page}").content.decode()
    assert last.count("data-tile=") == total - 9 * (last_page - 1)


def test_wall_query_count_is_fixed(login: Any, django_assert_num_queries: Any) -> None:
    client = login("operator")
    client.get("/ops/cameras/wall/?grid=4")
    # session, user, count, page of cameras (ward and camera joined), wards, and the audit
    # of the tiles' stream addresses issued with the page (one insert for all)
    with django_assert_num_queries(6):
        html = client.get("/ops/cameras/wall/?grid=4").content.decode()
    assert html.count("data-tile=") == 16


def test_wall_export_lists_every_camera_of_the_choice_with_its_state(login: Any) -> None:
    camera = device_in(OWN, "camera")
    Device.objects.filter(pk=camera.pk).update(status=DeviceStatus.FAULT)
    rows = read_csv(login("official1").get("/ops/cameras/wall/export.csv?grid=2"))
    assert rows[0] == ["Mã", "Tên", "Loại", "Mã phường/xã", "Trạng thái", "Hoạt động lần cuối"]
    codes = [row[0] for row in rows[1:]]
    assert codes == list(
        Device.objects.filter(ward__code=OWN, kind=DeviceKind.CAMERA)
        .order_by("code")
        .values_list("code", flat=True)
    )
    assert rows[1 + codes.index(camera.code)][4] == str(DeviceStatus.FAULT.label)


# --- Reports --------------------------------------------------------------------------------


def test_report_counts_only_the_officials_ward(login: Any) -> None:
    now = timezone.now()
    alert_on(device_in(OWN, "camera"), "Của phường mình", raised_at=now)
    alert_on(device_in(OTHER, "camera"), "Của phường khác", raised_at=now)
    today = timezone.localdate().isoformat()
    official = login("official1").get(f"/ops/reports/?from={today}&to={today}")
    assert official.context["series"].counts["critical"] == [1]
    operator = login("operator").get(f"/ops/reports/?from={today}&to={today}")
    assert operator.context["series"].counts["critical"] == [2]


def test_report_counts_incidents_opened_per_day_in_the_officials_ward(login: Any) -> None:

    open_at(OWN, type="fire")
    open_at(OTHER)
    today = timezone.localdate().isoformat()
    official = login("official1").get(f"/ops/reports/?from={today}&to={today}")
    assert official.context["incidents"].counts["critical"] == [1]
    assert official.context["incidents_total"] == 1
    rows = read_csv(login("operator").get(f"/ops/reports/export.csv?from={today}&to={today}"))
    assert rows[1][-1] == "2"


def test_report_defaults_to_the_last_30_days_and_exports_them(login: Any) -> None:
    client = login("operator")
    response = client.get("/ops/reports/")
    assert len(response.context["series"].days) == 30
    rows = read_csv(client.get("/ops/reports/export.csv"))
    assert rows[0] == ["Ngày", "Nghiêm trọng", "Cảnh báo", "Thông tin", "Tổng", "Sự cố mới"]
    assert len(rows) == 31
    assert rows[-1][0] == timezone.localdate().strftime("%d/%m/%Y")


def test_report_range_is_put_in_order_and_capped(login: Any) -> None:
    client = login("operator")
    swapped = client.get("/ops/reports/?from=2026-03-10&to=2026-03-01")
    assert swapped.context["range"].first.isoformat() == "2026-03-01"
    assert len(swapped.context["series"].days) == 10
    huge = client.get("/ops/reports/?from=2020-01-01&to=2026-03-01")
    assert len(huge.context["series"].days) == 366
    vietnamese = client.get("/ops/reports/?from=01/03/2026&to=05/03/2026")
    assert len(vietnamese.context["series"].days) == 5


def test_report_export_query_count_is_fixed(login: Any, django_assert_num_queries: Any) -> None:
    client = login("official1")
    read_csv(client.get("/ops/reports/export.csv"))
    with django_assert_num_queries(4):  # session, user, alerts and incidents aggregates
        rows = read_csv(client.get("/ops/reports/export.csv?from=2026-01-01&to=2026-03-31"))
    assert len(rows) == 1 + 90


# --- Alert feed export ---------------------------------------------------------------------


def test_alert_export_is_scoped_filtered_and_guarded_against_formulas(login: Any) -> None:
    own_camera, own_sensor = device_in(OWN, "camera"), device_in(OWN, "sensor")
    alert_on(own_camera, '=HYPERLINK("http://evil")')
    alert_on(own_sensor, "Cảm biến lỗi", severity=Severity.WARNING)
    alert_on(own_sensor, "Đã xong", status=AlertStatus.RESOLVED)
    alert_on(device_in(OTHER, "camera"), "Phường khác")
    client = login("official1")
    rows = read_csv(client.get("/ops/alerts/export.csv"))
    assert rows[0][:4] == ["Phát sinh lúc", "Mức độ", "Trạng thái", "Tiêu đề"]
    titles = {row[3] for row in rows[1:]}
    assert titles == {'\'=HYPERLINK("http://evil")', "Cảm biến lỗi"}
    assert {row[4] for row in rows[1:]} == {OWN}
    raised = rows[1][0]
    assert raised[2] == "/" and raised[5] == "/"  # dd/mm/yyyy hh:mm
    cameras_only = read_csv(client.get("/ops/alerts/export.csv?kind=camera"))
    assert [row[6] for row in cameras_only[1:]] == [own_camera.code]
    nothing = read_csv(client.get("/ops/alerts/export.csv?kind=none"))
    assert nothing[1:] == []
    warnings = read_csv(
        login("operator").get(f"/ops/alerts/export.csv?ward={OWN}&severity=warning")
    )
    assert [row[3] for row in warnings[1:]] == ["Cảm biến lỗi"]


def test_alert_export_query_count_does_not_grow_with_alerts(
    login: Any, django_assert_num_queries: Any
) -> None:
    device = device_in(OWN, "camera")
    for n in range(6):
        alert_on(device, f"Sự cố {n}", assignee=example_user("operator"))
    client = login("official1")
    read_csv(client.get("/ops/alerts/export.csv"))
    with django_assert_num_queries(3):  # session, user, alerts with everything joined
        rows = read_csv(client.get("/ops/alerts/export.csv"))
    assert len(rows) == 7


def test_dashboard_links_the_alert_export(login: Any) -> None:
    html = login("operator").get("/ops/").content.decode()
    assert 'href="/ops/alerts/export.csv" data-alerts-export' in html
    assert 'data-panel-url="/ops/panel/__code__/"' in html
    assert 'id="ioc-panel-labels"' in html


# --- Ward exports ---------------------------------------------------------------------------


def test_ward_list_export_matches_the_ward_list(login: Any, django_assert_num_queries: Any) -> None:
    official = login("official1")
    read_csv(official.get("/ops/wards/export.csv"))
    with django_assert_num_queries(4):  # session, user, counts by ward, wards
        rows = read_csv(official.get("/ops/wards/export.csv"))
    assert [row[0] for row in rows[1:]] == [OWN]
    ward = Ward.objects.current().get(code=OWN)
    devices = Device.objects.filter(ward=ward)
    assert rows[1][1] == ward.title
    assert rows[1][2] == "Có"  # a boundary
    assert rows[1][3] == str(devices.count())
    all_rows = read_csv(login("operator").get("/ops/wards/export.csv"))
    assert len(all_rows) - 1 == Ward.objects.current().count()


def test_ward_device_export_lists_the_wards_devices(
    login: Any, django_assert_num_queries: Any
) -> None:
    device = device_in(OWN, "sensor")
    Device.objects.filter(pk=device.pk).update(last_seen_at=timezone.now() - timedelta(days=1))
    client = login("official1")
    read_csv(client.get(f"/ops/wards/{OWN}/export.csv"))
    with django_assert_num_queries(4):  # session, user, ward, devices
        rows = read_csv(client.get(f"/ops/wards/{OWN}/export.csv"))
    assert len(rows) - 1 == Device.objects.filter(ward__code=OWN).count()
    row = next(row for row in rows if row[0] == device.code)
    assert row[2] == str(DeviceKind.SENSOR.label)
    seen = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%d/%m/%Y")
    assert row[5].startswith(seen)
    html = client.get(f"/ops/wards/{OWN}/").content.decode()
    assert f'href="/ops/wards/{OWN}/export.csv"' in html


def test_wall_export_and_report_page_query_counts_are_fixed(
    login: Any, django_assert_num_queries: Any
) -> None:
    client = login("operator")
    read_csv(client.get("/ops/cameras/wall/export.csv"))
    with django_assert_num_queries(3):  # session, user, every camera with ward and details
        rows = read_csv(client.get("/ops/cameras/wall/export.csv"))
    assert len(rows) - 1 == Device.objects.filter(kind=DeviceKind.CAMERA).count()
    client.get("/ops/reports/")
    # session, user, alerts and incidents per day; per unit: the day's units, the units'
    # ends, the successions, the four figures' aggregates and the visible units (plus one
    # query per figure only when a split or merged unit's cases must be placed one by one)
    with django_assert_num_queries(12):
        assert client.get("/ops/reports/").status_code == 200
