"""KPIs and the websocket snapshot: figures and contents scoped by ward, fixed query counts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device
from dashboards.selectors import kpis_for, snapshot_for
from ioc import realtime
from ioc.choices import AlertStatus, Severity
from ioc.models import Alert, Ward
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import example_user, open_at, raise_alert


def expected_device_kpis(**ward_filter: Any) -> dict[str, dict[str, Any]]:
    """The device figures computed the slow, obvious way (one query per kind)."""
    figures = {}
    for kind in DeviceKind.values:
        devices = Device.objects.filter(kind=kind, **ward_filter)
        total = devices.count()
        online = devices.filter(status=DeviceStatus.ONLINE).count()
        figures[kind] = {
            "total": total,
            "online": online,
            "online_pct": round(100 * online / total, 1) if total else 0.0,
        }
    return figures


@pytest.fixture
def alerts_in_two_wards(demo_city: Any) -> None:
    raise_alert(OWN, severity=Severity.CRITICAL)
    raise_alert(OWN, "threshold:pm25", severity=Severity.WARNING)
    resolved = raise_alert(OWN, "detection:crowd", severity=Severity.INFO)
    Alert.objects.filter(pk=resolved.pk).update(status=AlertStatus.RESOLVED)
    raise_alert(OTHER, severity=Severity.CRITICAL)
    raise_alert(OTHER, "detection:crowd", severity=Severity.INFO)


def test_operator_kpis_cover_the_whole_city(alerts_in_two_wards: None) -> None:
    kpis = kpis_for(example_user("operator"))

    assert kpis["devices"] == expected_device_kpis()
    assert kpis["devices"]["camera"]["total"] == 304
    assert kpis["alerts"] == {"critical": 2, "warning": 1, "info": 1}
    assert kpis["alerts_open"] == 4


def test_ward_official_kpis_count_only_their_ward(alerts_in_two_wards: None) -> None:
    kpis = kpis_for(example_user("official1"))

    assert kpis["devices"] == expected_device_kpis(ward__code=OWN)
    assert 0 < kpis["devices"]["camera"]["total"] < 304
    assert kpis["alerts"] == {"critical": 1, "warning": 1, "info": 0}
    assert kpis["alerts_open"] == 2


def test_online_percentage_follows_device_status(demo_city: Any) -> None:
    Device.objects.filter(ward__code=OWN, kind=DeviceKind.CAMERA).update(
        status=DeviceStatus.OFFLINE
    )
    first = Device.objects.filter(ward__code=OWN, kind=DeviceKind.CAMERA).order_by("code")[0]
    Device.objects.filter(pk=first.pk).update(status=DeviceStatus.ONLINE)
    total = Device.objects.filter(ward__code=OWN, kind=DeviceKind.CAMERA).count()

    cameras = kpis_for(example_user("official1"))["devices"]["camera"]

    assert cameras == {"total": total, "online": 1, "online_pct": round(100 / total, 1)}


def test_department_staff_see_city_wide_kpis(alerts_in_two_wards: None) -> None:
    assert kpis_for(example_user("department1"))["alerts_open"] == 4


def test_kpis_take_six_queries_whatever_the_scope(
    alerts_in_two_wards: None, django_assert_num_queries: Any
) -> None:
    for username in ("operator", "official1"):
        user = example_user(username)
        # devices per ward, kind and status; open alerts and incidents by severity; the
        # requests' open, resolved and rated figures
        with django_assert_num_queries(6):
            kpis_for(user)


def test_open_incidents_count_in_the_kpis_and_the_snapshot_of_their_ward_only(
    alerts_in_two_wards: None,
) -> None:
    from ioc.services import incident_status_set

    open_at(OWN, type="fire")
    done = open_at(OTHER)
    open_at(OTHER, type="other")
    incident_status_set(
        actor=example_user("operator"), incident=done, status="resolved", note="xong"
    )

    official = kpis_for(example_user("official1"))
    assert (official["incidents_open"], official["incidents"]["critical"]) == (1, 1)
    assert kpis_for(example_user("operator"))["incidents_open"] == 2
    snapshot = snapshot_for(example_user("official1"))
    assert [incident["ward"] for incident in snapshot["incidents"]] == [OWN]
    assert {
        incident["ward"] for incident in snapshot_for(example_user("operator"))["incidents"]
    } == {
        OWN,
        OTHER,
    }


def test_kpi_api_is_scoped_to_the_callers_wards(alerts_in_two_wards: None, login: Any) -> None:
    response = login("official1").get("/api/v1/kpis")

    assert response.status_code == 200
    body = response.json()
    assert body["at"]
    assert body["alerts"] == {"critical": 1, "warning": 1, "info": 0}
    assert body["devices"] == expected_device_kpis(ward__code=OWN)
    assert login("operator").get("/api/v1/kpis").json()["alerts_open"] == 4


def test_kpi_api_query_count_is_fixed(
    alerts_in_two_wards: None, login: Any, django_assert_num_queries: Any
) -> None:
    client = login("official1")
    client.get("/api/v1/kpis")
    with django_assert_num_queries(8):  # session, user, then the six KPI aggregates
        client.get("/api/v1/kpis")


def test_kpi_api_refuses_anonymous_callers(demo_city: Any, client: Any) -> None:
    assert client.get("/api/v1/kpis").status_code == 403


def test_kpi_api_is_in_the_openapi_schema(demo_city: Any, login: Any) -> None:
    schema = login("operator").get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/kpis"]["get"]
    assert "200" in operation["responses"]


def test_snapshot_holds_only_the_officials_ward(alerts_in_two_wards: None) -> None:
    snapshot = snapshot_for(example_user("official1"))

    assert snapshot["type"] == "snapshot"
    assert snapshot["wards"] == [OWN]
    groups = [realtime.ward_group(OWN), realtime.ward_requests_group(OWN)]
    assert snapshot["seq"] == realtime.current_seqs(groups)
    assert set(snapshot["epoch"]) == set(groups)
    assert snapshot["heartbeat_seconds"] == realtime.heartbeat_seconds()
    assert set(snapshot["devices"]) == set(
        Device.objects.filter(ward__code=OWN).values_list("code", flat=True)
    )
    device = Device.objects.filter(ward__code=OWN).order_by("code").first()
    assert device is not None
    assert snapshot["devices"][device.code] == {
        "status": device.status,
        "kind": device.kind,
        "ward": OWN,
        "last_seen_at": realtime.json_safe(device.last_seen_at),
        "lat": float(device.latitude),
        "lon": float(device.longitude),
        "name": device.name,
    }
    assert [alert["ward"] for alert in snapshot["alerts"]] == [OWN, OWN]
    assert [alert["severity"] for alert in snapshot["alerts"]] == ["warning", "critical"]
    assert snapshot["kpis"] == kpis_for(example_user("official1"))
    json.dumps(snapshot)  # plain JSON, as the consumer sends it


def test_operator_snapshot_has_every_ward_and_the_city_groups(alerts_in_two_wards: None) -> None:
    snapshot = snapshot_for(example_user("operator"))

    assert snapshot["wards"] == list(
        Ward.objects.current().order_by("code").values_list("code", flat=True)
    )
    assert list(snapshot["seq"]) == [realtime.CITY_GROUP, realtime.REQUESTS_GROUP]
    assert len(snapshot["devices"]) == Device.objects.count()
    assert {alert["ward"] for alert in snapshot["alerts"]} == {OWN, OTHER}
    assert snapshot["kpis"]["alerts_open"] == 4


def test_snapshot_query_count_is_fixed(
    alerts_in_two_wards: None, django_assert_num_queries: Any
) -> None:
    user = example_user("official1")
    # groups, devices, wards, alerts (ward, device, users joined), incidents and requests
    # (joined), six KPI aggregates
    with django_assert_num_queries(12):
        snapshot_for(user)


def test_the_dashboard_still_renders_when_redis_is_down(
    alerts_in_two_wards: None, login: Any, settings: Any
) -> None:
    # A Redis nobody listens on (port 1): the cache that holds the live sequence numbers.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = login("operator").get("/ops/")
    assert response.status_code == 200
    initial = response.context["live_initial"]
    # Clients resync once it is back (a higher seq, or an epoch where there was none).
    assert initial["seq"] == {realtime.CITY_GROUP: 0, realtime.REQUESTS_GROUP: 0}
    assert initial["epoch"] == {realtime.CITY_GROUP: "", realtime.REQUESTS_GROUP: ""}
    assert initial["kpis"]["alerts_open"] == 4
    assert "data-live-status" in response.content.decode()


def test_a_wards_page_is_that_wards_live_dashboard(alerts_in_two_wards: None, login: Any) -> None:

    own_incident, other_incident = open_at(OWN, title="Sự cố của phường"), open_at(OTHER)
    response = login("operator").get(f"/ops/wards/{OWN}/")
    assert response.status_code == 200
    initial = response.context["live_initial"]
    assert initial["wards"] == [OWN]
    assert list(initial["seq"]) == [realtime.ward_group(OWN), realtime.ward_requests_group(OWN)]
    assert {alert["ward"] for alert in initial["alerts"]} == {OWN}
    assert [incident["id"] for incident in initial["incidents"]] == [own_incident.pk]
    assert initial["kpis"]["alerts_open"] == 2 and initial["kpis"]["incidents_open"] == 1
    html = response.content.decode()
    assert f'data-ws-path="/ws/ops/?ward={OWN}"' in html
    assert f'data-incident="{own_incident.pk}"' in html
    assert f'data-incident="{other_incident.pk}"' not in html
    assert "Sự cố của phường" in html


def test_kpi_api_for_one_ward_is_scoped(alerts_in_two_wards: None, login: Any) -> None:
    assert login("operator").get(f"/api/v1/kpis?ward={OTHER}").json()["alerts_open"] == 2
    assert login("official1").get(f"/api/v1/kpis?ward={OWN}").json()["alerts_open"] == 2
    assert login("official1").get(f"/api/v1/kpis?ward={OTHER}").status_code == 404
