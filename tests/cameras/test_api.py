"""Device API: list and detail for staff, writes for administrators, readings series
downsampled in the database, events; bad parameters answer 400 JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone

from cameras.choices import DeviceStatus, EventType, StreamProtocol
from cameras.models import CameraDetail, Device, DeviceEvent, Reading, StatusChange
from ioc.models import AuditEntry, Ward
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import placed_device, placed_devices_in

# An air-quality station in official2's ward.
SENSOR = placed_device(OTHER, "sensor")
VN = timezone.get_fixed_timezone(7 * 60)
T0 = datetime(2026, 1, 1, 0, 0, tzinfo=VN)


def ward_point(code: str) -> dict[str, str]:
    ward = Ward.objects.current().get(code=code)
    return {"latitude": str(ward.centroid_lat), "longitude": str(ward.centroid_lon)}


# --- List and detail -----------------------------------------------------------------------------


def test_device_list_is_paginated_and_carries_the_registry_fields(
    login: Any, demo_city: None
) -> None:
    body = login("operator").get("/api/v1/devices/", {"limit": 10, "offset": 10}).json()
    assert body["count"] == Device.objects.count()
    assert [row["code"] for row in body["results"]] == list(
        Device.objects.order_by("code").values_list("code", flat=True)[10:20]
    )
    row = body["results"][0]
    assert set(row) >= {"code", "name", "kind", "ward", "ward_title", "gateway", "status"}
    assert row["latitude"] and row["last_seen_at"].endswith("+07:00")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "signal", "ward": OTHER}, placed_devices_in(OTHER)),
        ({"q": "aq-00", "kind": "sensor"}, [f"AQ-00{n}" for n in range(1, 10)]),
        ({"q": "SIG-003"}, ["SIG-003"]),
        ({"ward": "99999"}, []),
    ],
)
def test_device_list_filters(
    login: Any, demo_city: None, params: dict[str, str], expected: list[str]
) -> None:
    body = login("operator").get("/api/v1/devices/", {**params, "limit": 1000}).json()
    assert [row["code"] for row in body["results"]] == expected


def test_device_list_filters_by_status(login: Any, demo_city: None) -> None:
    Device.objects.filter(code__in=["SIG-001", "WL-002"]).update(status=DeviceStatus.MAINTENANCE)
    Device.objects.exclude(code__in=["SIG-001", "WL-002"]).filter(
        status=DeviceStatus.MAINTENANCE
    ).update(status=DeviceStatus.ONLINE)
    body = login("admin").get("/api/v1/devices/", {"status": "maintenance"}).json()
    assert [row["code"] for row in body["results"]] == ["SIG-001", "WL-002"]


@pytest.mark.parametrize("params", [{"kind": "drone"}, {"status": "asleep"}])
def test_device_list_refuses_unknown_kind_or_status(
    login: Any, demo_city: None, params: dict[str, str]
) -> None:
    response = login("operator").get("/api/v1/devices/", params)
    assert response.status_code == 400
    assert "must be one of" in response.json()["detail"]


def test_device_list_query_count_is_fixed(
    login: Any, demo_city: None, django_assert_num_queries: Any
) -> None:
    client = login("operator")
    with django_assert_num_queries(4):  # session, user, count, page (ward and gateway joined)
        response = client.get("/api/v1/devices/", {"limit": 500})
    assert len(response.json()["results"]) == Device.objects.count()


def test_device_detail_has_camera_details_without_credentials_or_internal_addresses(
    login: Any, demo_city: None
) -> None:
    camera = CameraDetail.objects.filter(device__ward__code=OWN).select_related("device").first()
    assert camera is not None
    camera.stream_protocol = StreamProtocol.HLS
    camera.stream_main_url = "http://user:pw@10.1.1.5/live/index.m3u8"
    camera.save()
    body = login("official1").get(f"/api/v1/devices/{camera.device.code}/").json()
    assert body["camera"]["hls_url"] == "http://10.1.1.5/live/index.m3u8"
    assert body["camera"]["snapshot"] == f"/ops/devices/{camera.device.code}/snapshot.jpg"
    assert set(body["camera"]) == {
        "stream_protocol",
        "hls_url",
        "ptz",
        "resolution",
        "recording_mode",
        "snapshot_at",
        "snapshot",
    }
    assert body["signal"] is None
    camera.stream_protocol = StreamProtocol.RTSP
    camera.save()
    body = login("official1").get(f"/api/v1/devices/{camera.device.code}/").json()
    assert body["camera"]["hls_url"] is None


def test_device_detail_has_signal_state_and_sensor_thresholds(login: Any, demo_city: None) -> None:
    client = login("operator")
    signal = client.get("/api/v1/devices/SIG-003/").json()["signal"]
    assert set(signal) == {
        "intersection",
        "mode",
        "plan",
        "phase",
        "faults",
        "comm_status",
        "state_at",
    }
    thresholds = client.get(f"/api/v1/devices/{SENSOR}/").json()["thresholds"]
    assert {(t["metric"], t["high"]) for t in thresholds} == {("pm25", 50.0), ("pm10", 100.0)}


# --- Writes (administrators, through audited services) ---------------------------------------


def test_admin_registers_a_device_in_the_ward_containing_its_point(
    login: Any, demo_city: None
) -> None:
    response = login("admin").post(
        "/api/v1/devices/",
        {
            "code": "CAM-API-1",
            "name": "Camera cầu Gia Bảy",
            "kind": "camera",
            **ward_point(OTHER),
            "tags": ["giao-thong"],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["ward"] == OTHER
    entry = AuditEntry.objects.get(action="device.created", object_repr__startswith="CAM-API-1")
    assert entry.actor_label == "admin" and entry.ward_code == OTHER


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latitude": "10.7626", "longitude": "106.66"}, "latitude"),
        ({"ward": OWN}, "ward"),
        ({"kind": "drone"}, "kind"),
        ({"code": "SIG-003"}, "code"),
    ],
)
def test_device_registration_is_refused_with_reasons(
    login: Any, demo_city: None, changes: dict[str, str], field: str
) -> None:
    payload = {"code": "CAM-API-2", "name": "Camera", "kind": "camera", **ward_point(OTHER)}
    response = login("admin").post(
        "/api/v1/devices/", {**payload, **changes}, content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Device.objects.filter(code="CAM-API-2").exists()


def test_moving_a_device_moves_it_to_the_ward_containing_its_new_point(
    login: Any, demo_city: None
) -> None:
    response = login("admin").patch(
        "/api/v1/devices/SIG-003/", ward_point(OTHER), content_type="application/json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["ward"] == OTHER
    entry = AuditEntry.objects.filter(action="device.updated").latest("at")
    assert entry.before is not None and entry.after is not None
    assert entry.before["ward"] != entry.after["ward"]


def test_a_status_set_through_the_api_enters_the_status_history(
    login: Any, demo_city: None
) -> None:
    Device.objects.filter(code="SIG-003").update(status=DeviceStatus.ONLINE)
    response = login("admin").patch(
        "/api/v1/devices/SIG-003/", {"status": "maintenance"}, content_type="application/json"
    )
    assert response.status_code == 200
    change = StatusChange.objects.filter(device__code="SIG-003").latest("at")
    assert (change.from_status, change.to_status) == ("online", "maintenance")


def test_a_device_code_cannot_be_changed(login: Any, demo_city: None) -> None:
    response = login("admin").patch(
        "/api/v1/devices/SIG-003/", {"code": "SIG-999"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert Device.objects.filter(code="SIG-003").exists()


def test_admin_removes_a_device_and_the_removal_is_audited(login: Any, demo_city: None) -> None:
    response = login("admin").delete("/api/v1/devices/SIG-003/")
    assert response.status_code == 204
    assert not Device.objects.filter(code="SIG-003").exists()
    entry = AuditEntry.objects.get(action="device.deleted")
    assert entry.before is not None and entry.before["name"]


@pytest.mark.parametrize("username", ["operator", "official1", "department1"])
def test_only_administrators_write_devices(login: Any, demo_city: None, username: str) -> None:
    client = login(username)
    payload = {"code": "CAM-API-3", "name": "x", "kind": "camera", **ward_point(OWN)}
    assert (
        client.post("/api/v1/devices/", payload, content_type="application/json").status_code == 403
    )
    assert (
        client.patch(
            "/api/v1/devices/SIG-003/", {"name": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert client.delete("/api/v1/devices/SIG-003/").status_code == 403
    assert Device.objects.get(code="SIG-003").name != "x"
    assert not Device.objects.filter(code="CAM-API-3").exists()


# --- Readings -----------------------------------------------------------------------------------


def add_readings(code: str, metric: str, values: list[tuple[timedelta, float]]) -> None:
    device = Device.objects.get(code=code)
    Reading.objects.bulk_create(
        Reading(device=device, metric=metric, ts=T0 + offset, value=value)
        for offset, value in values
    )


def readings(client: Any, code: str = SENSOR, **params: Any) -> Any:
    return client.get(f"/api/v1/devices/{code}/readings", params)


def test_readings_are_bucketed_with_average_minimum_and_maximum(
    login: Any, demo_city: None
) -> None:
    minute = timedelta(minutes=1)
    add_readings(
        SENSOR,
        "pm25",
        [
            (-timedelta(seconds=1), 1000.0),  # before the range
            (0 * minute, 10.0),
            (5 * minute, 20.0),
            (15 * minute - timedelta(milliseconds=1), 30.0),  # still the first bucket
            (15 * minute, 40.0),  # the second bucket starts exactly here
            (50 * minute, 5.0),
            (60 * minute - timedelta(seconds=1), 7.0),
            (60 * minute, 2000.0),  # the range is [from, to)
        ],
    )
    add_readings(SENSOR, "pm10", [(minute, 999.0)])
    body = readings(
        login("official2"),
        metric="pm25",
        points=4,
        **{"from": T0.isoformat(), "to": (T0 + 60 * minute).isoformat()},
    ).json()
    assert body["points"] == 4 and body["bucket_seconds"] == 900
    assert body["from"] == "2026-01-01T00:00:00+07:00"
    assert body["to"] == "2026-01-01T01:00:00+07:00"
    assert (body["unit"], body["high"], body["low"]) == ("µg/m³", 50.0, None)
    assert body["buckets"] == [
        {"start": "2026-01-01T00:00:00+07:00", "avg": 20.0, "min": 10.0, "max": 30.0, "count": 3},
        {"start": "2026-01-01T00:15:00+07:00", "avg": 40.0, "min": 40.0, "max": 40.0, "count": 1},
        {"start": "2026-01-01T00:45:00+07:00", "avg": 6.0, "min": 5.0, "max": 7.0, "count": 2},
    ]


def test_readings_default_to_the_last_24_hours_in_200_buckets(login: Any, demo_city: None) -> None:
    device = Device.objects.get(code=SENSOR)
    now = timezone.now()
    Reading.objects.bulk_create(
        [
            Reading(device=device, metric="pm25", ts=now - timedelta(hours=25), value=1.0),
            Reading(device=device, metric="pm25", ts=now - timedelta(hours=23), value=2.0),
            Reading(device=device, metric="pm25", ts=now - timedelta(minutes=1), value=3.0),
        ]
    )
    body = readings(login("operator"), metric="pm25").json()
    assert body["points"] == 200
    assert body["bucket_seconds"] == pytest.approx(24 * 3600 / 200)
    assert [b["avg"] for b in body["buckets"]] == [2.0, 3.0]
    start = datetime.fromisoformat(body["from"])
    end = datetime.fromisoformat(body["to"])
    assert end - start == timedelta(hours=24)
    assert abs(end - now) < timedelta(seconds=30)


def test_readings_bucket_many_values_into_at_most_the_requested_points(
    login: Any, demo_city: None
) -> None:
    add_readings(SENSOR, "pm25", [(timedelta(seconds=s), float(s)) for s in range(0, 3600, 5)])
    body = readings(
        login("operator"),
        metric="pm25",
        points=60,
        **{"from": T0.isoformat(), "to": (T0 + timedelta(hours=1)).isoformat()},
    ).json()
    buckets = body["buckets"]
    assert len(buckets) == 60
    assert all(b["count"] == 12 for b in buckets)
    assert buckets[1] == {
        "start": "2026-01-01T00:01:00+07:00",
        "avg": 87.5,
        "min": 60.0,
        "max": 115.0,
        "count": 12,
    }


def test_readings_accept_z_and_an_unencoded_plus_offset(login: Any, demo_city: None) -> None:
    add_readings(SENSOR, "pm25", [(timedelta(minutes=1), 4.0)])
    client = login("operator")
    utc = T0.astimezone(UTC)
    by_z = readings(
        client,
        metric="pm25",
        **{"from": utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": "2026-01-01T01:00:00+07:00"},
    )
    assert by_z.status_code == 200 and by_z.json()["buckets"][0]["avg"] == 4.0
    raw = client.get(
        f"/api/v1/devices/{SENSOR}/readings?metric=pm25"
        "&from=2026-01-01T00:00:00+07:00&to=2026-01-01T01:00:00+07:00"  # "+" arrives as " "
    )
    assert raw.status_code == 200 and raw.json()["from"] == "2026-01-01T00:00:00+07:00"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "metric is required"),
        ({"metric": "pm25", "points": "0"}, "points"),
        ({"metric": "pm25", "points": "2001"}, "points"),
        ({"metric": "pm25", "points": "many"}, "points"),
        ({"metric": "pm25", "from": "yesterday"}, "from must be an ISO 8601 time"),
        ({"metric": "pm25", "from": "2026-01-01T00:00:00"}, "offset"),
        ({"metric": "pm25", "to": "2026-13-01T00:00:00+07:00"}, "to must be"),
        (
            {
                "metric": "pm25",
                "from": "2026-01-02T00:00:00+07:00",
                "to": "2026-01-01T00:00:00+07:00",
            },
            "before",
        ),
        (
            {
                "metric": "pm25",
                "from": "2024-01-01T00:00:00+07:00",
                "to": "2026-01-01T00:00:00+07:00",
            },
            "366 days",
        ),
    ],
)
def test_readings_refuse_bad_parameters_with_400_json(
    login: Any, demo_city: None, params: dict[str, str], message: str
) -> None:
    response = readings(login("operator"), **params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["detail"]


def test_readings_name_the_metrics_when_none_is_asked_for(login: Any, demo_city: None) -> None:
    detail = readings(login("operator")).json()["detail"]
    assert "pm10, pm25" in detail


def test_readings_of_an_unknown_metric_are_empty(login: Any, demo_city: None) -> None:
    body = readings(login("operator"), metric="noise").json()
    assert body["buckets"] == [] and body["high"] is None


def test_readings_query_count_is_fixed(
    login: Any, demo_city: None, django_assert_num_queries: Any
) -> None:
    add_readings(SENSOR, "pm25", [(timedelta(seconds=s), 1.0) for s in range(0, 3600, 10)])
    client = login("operator")
    params = {"metric": "pm25", "from": T0.isoformat(), "to": (T0 + timedelta(hours=1)).isoformat()}
    # session, user, device, thresholds, the rollups' marks (the range is older than raw
    # retention), one aggregate (no rollup there: the raw readings)
    with django_assert_num_queries(6):
        response = readings(client, **params)
    assert len(response.json()["buckets"]) == 200


# --- Events --------------------------------------------------------------------------------------


def add_events(code: str, count: int) -> list[DeviceEvent]:
    device = Device.objects.get(code=code)
    types = [EventType.HEARTBEAT, EventType.READING, EventType.FAULT]
    return DeviceEvent.objects.bulk_create(
        DeviceEvent(
            device=device,
            event_id=f"ev-{n:03d}",
            type=types[n % 3],
            ts=T0 + timedelta(minutes=n),
            received_at=T0 + timedelta(minutes=n, seconds=1),
            data={"n": n},
        )
        for n in range(count)
    )


def test_events_are_newest_first_and_paginated(login: Any, demo_city: None) -> None:
    add_events("SIG-003", 30)
    body = login("official1").get("/api/v1/devices/SIG-003/events", {"limit": 10}).json()
    assert body["count"] == 30
    assert [e["event_id"] for e in body["results"]] == [f"ev-{n:03d}" for n in range(29, 19, -1)]
    assert body["results"][0]["ts"] == "2026-01-01T00:29:00+07:00"
    assert body["next"]


def test_events_filter_by_type_and_time(login: Any, demo_city: None) -> None:
    add_events("SIG-003", 30)
    body = (
        login("official1")
        .get(
            "/api/v1/devices/SIG-003/events",
            {
                "type": "fault",
                "from": (T0 + timedelta(minutes=10)).isoformat(),
                "to": (T0 + timedelta(minutes=20)).isoformat(),
            },
        )
        .json()
    )
    assert [e["event_id"] for e in body["results"]] == ["ev-017", "ev-014", "ev-011"]


@pytest.mark.parametrize(
    "params", [{"type": "explosion"}, {"from": "soon"}, {"to": "2026-01-01T00:00:00"}]
)
def test_events_refuse_bad_parameters(login: Any, demo_city: None, params: dict[str, str]) -> None:
    response = login("official1").get("/api/v1/devices/SIG-003/events", params)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_events_query_count_is_fixed(
    login: Any, demo_city: None, django_assert_num_queries: Any
) -> None:
    add_events("SIG-003", 120)
    client = login("official1")
    with django_assert_num_queries(5):  # session, user, device, count, page
        response = client.get("/api/v1/devices/SIG-003/events")
    assert len(response.json()["results"]) == 100


# --- Schema -------------------------------------------------------------------------------------


def test_device_endpoints_are_in_the_openapi_schema(login: Any, demo_city: None) -> None:
    paths = login("operator").get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in [
        "/api/v1/devices/",
        "/api/v1/devices/{code}/",
        "/api/v1/devices/{code}/readings",
        "/api/v1/devices/{code}/events",
    ]:
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/api/v1/devices/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/devices/{code}/"])
    parameters = {p["name"] for p in paths["/api/v1/devices/{code}/readings"]["get"]["parameters"]}
    assert {"metric", "from", "to", "points"} <= parameters


def test_device_codes_with_spaces_are_reachable(login: Any, demo_city: None) -> None:
    Device.objects.filter(code="SIG-003").update(code="SIG 003")
    response = login("operator").get(f"/api/v1/devices/{quote('SIG 003')}/")
    assert response.status_code == 200 and response.json()["code"] == "SIG 003"
