"""The live map at city scale: viewport endpoints, search, the embed limit, scoping, bad
input, and query counts that do not grow with the number of devices."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cameras.choices import DeviceStatus
from cameras.models import Device
from dashboards.selectors import snapshot_for
from ioc import realtime
from ioc.models import Ward
from ioc.realtime.batcher import Batcher
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import DeviceFactory, GroupListener, example_user, group_listener

CITY_BOX = "105.6,21.4,106.1,21.8"


def add_devices(ward_code: str, count: int) -> None:
    """``count`` more cameras in a ward, at its existing devices' position (bulk)."""
    ward = Ward.objects.current().get(code=ward_code)
    anchor = Device.objects.filter(ward=ward).order_by("code").first()
    assert anchor is not None
    Device.objects.bulk_create(
        DeviceFactory.build(
            code=f"EXTRA-{ward_code}-{n:04d}",
            name=f"Extra camera {n}",
            ward=ward,
            latitude=anchor.latitude + Decimal(n) / Decimal(1_000_000),
            longitude=anchor.longitude,
        )
        for n in range(count)
    )


def codes_of(body: dict[str, Any]) -> set[str]:
    return {row[0] for row in body["devices"]}


# --- devices.geojson (the DESIGN.md contract) ------------------------------------------------


def test_geojson_keeps_its_contract(login: Any, demo_city: None) -> None:
    body = login("operator").get("/api/v1/devices.geojson").json()

    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == Device.objects.count()
    feature = body["features"][0]
    device = Device.objects.select_related("ward").get(code=feature["properties"]["code"])
    assert feature["geometry"] == {
        "type": "Point",
        "coordinates": [float(device.longitude), float(device.latitude)],
    }
    assert set(feature["properties"]) >= {"code", "name", "kind", "status", "ward", "last_seen_at"}
    assert feature["properties"]["ward"] == device.ward.code


def test_geojson_query_count_does_not_grow_with_devices(
    login: Any, demo_city: None, django_assert_num_queries: Any
) -> None:
    client = login("operator")
    with django_assert_num_queries(3):  # session, user, the devices
        first = client.get("/api/v1/devices.geojson", {"bbox": CITY_BOX})
    add_devices(OWN, 50)
    with django_assert_num_queries(3):
        second = client.get("/api/v1/devices.geojson", {"bbox": CITY_BOX})
    assert len(second.json()["features"]) == len(first.json()["features"]) + 50


@pytest.mark.parametrize(
    "bbox",
    ["1,2,3", "a,b,c,d", "106,21,105,22", "200,21,201,22", "nan,1,2,3", "1,2,3,4,5"],
)
@pytest.mark.parametrize("endpoint", ["devices.geojson", "devices.map"])
def test_malformed_bbox_is_a_400_with_the_reason(
    login: Any, demo_city: None, endpoint: str, bbox: str
) -> None:
    response = login("operator").get(f"/api/v1/{endpoint}", {"bbox": bbox})

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert any(word in detail for word in ("bbox", "Latitude", "Longitude", "Coordinates"))


@pytest.mark.parametrize(
    "params", [{"kind": "drone"}, {"status": "asleep"}, {"grid": "0"}, {"grid": "x"}]
)
def test_map_refuses_unknown_filters(login: Any, demo_city: None, params: dict[str, str]) -> None:
    response = login("operator").get("/api/v1/devices.map", params)

    assert response.status_code == 400
    assert response.json()["detail"]


# --- devices.map: points or grid cells ---------------------------------------------------------


def test_map_sends_points_for_a_small_view(login: Any, demo_city: None) -> None:
    body = login("operator").get("/api/v1/devices.map", {"bbox": CITY_BOX}).json()

    assert body["mode"] == "points"
    assert body["total"] == len(body["devices"]) == Device.objects.count()
    assert body["fields"] == [
        "code",
        "name",
        "kind",
        "status",
        "ward",
        "lat",
        "lon",
        "last_seen_at",
    ]
    row = dict(zip(body["fields"], body["devices"][0], strict=True))
    device = Device.objects.select_related("ward").get(code=row["code"])
    assert (row["lat"], row["lon"]) == (float(device.latitude), float(device.longitude))
    assert row["ward"] == device.ward.code


def test_map_filters_by_several_kinds(login: Any, demo_city: None) -> None:
    body = login("operator").get("/api/v1/devices.map", {"kind": "sensor,signal"}).json()

    assert body["total"] == Device.objects.filter(kind__in=["sensor", "signal"]).count()
    assert {row[2] for row in body["devices"]} == {"sensor", "signal"}


def test_map_aggregates_into_cells_above_the_point_limit(
    login: Any, demo_city: None, settings: Any
) -> None:
    settings.IOC_MAP_POINT_LIMIT = 100
    codes = list(Device.objects.order_by("code").values_list("code", flat=True))
    Device.objects.filter(code__in=codes[::7]).update(status="offline")
    Device.objects.filter(code__in=codes[3::11]).update(status="fault")
    body = login("operator").get("/api/v1/devices.map", {"bbox": CITY_BOX, "grid": 16}).json()

    assert body["mode"] == "grid"
    assert "devices" not in body
    total = Device.objects.count()
    assert body["total"] == total == sum(cell["count"] for cell in body["cells"])
    assert 1 < len(body["cells"]) <= total
    for status in DeviceStatus.values:
        counted = sum(cell["status"][status] for cell in body["cells"])
        assert counted == Device.objects.filter(status=status).count(), status
    assert sorted((c["bounds"][0], c["bounds"][1]) for c in body["cells"]) == [
        (c["bounds"][0], c["bounds"][1]) for c in body["cells"]
    ]  # ordered by cell, so that a map redraws them in a stable order
    for cell in body["cells"]:
        assert sum(cell["status"].values()) == cell["count"]
        west, south, east, north = cell["bounds"]
        assert west <= cell["lon"] <= east and south <= cell["lat"] <= north


def test_map_query_count_is_fixed_in_both_modes(
    login: Any, demo_city: None, settings: Any, django_assert_num_queries: Any
) -> None:
    client = login("operator")
    with django_assert_num_queries(4):  # session, user, count, the rows
        client.get("/api/v1/devices.map", {"bbox": CITY_BOX})
    add_devices(OWN, 50)
    with django_assert_num_queries(4):
        client.get("/api/v1/devices.map", {"bbox": CITY_BOX})
    settings.IOC_MAP_POINT_LIMIT = 100
    with django_assert_num_queries(4):  # session, user, count, one GROUP BY
        assert client.get("/api/v1/devices.map").json()["mode"] == "grid"


def test_ward_official_map_holds_only_their_ward_in_points_and_cells(
    login: Any, demo_city: None, settings: Any
) -> None:
    client = login("official1")
    own = set(Device.objects.filter(ward__code=OWN).values_list("code", flat=True))

    points = client.get("/api/v1/devices.map", {"bbox": CITY_BOX}).json()
    assert codes_of(points) == own
    asked_other = client.get("/api/v1/devices.map", {"ward": OTHER}).json()
    assert asked_other["total"] == 0 and asked_other["devices"] == []
    settings.IOC_MAP_POINT_LIMIT = 1
    grid = client.get("/api/v1/devices.map").json()
    assert grid["mode"] == "grid"
    assert sum(cell["count"] for cell in grid["cells"]) == len(own)


def test_ward_official_geojson_holds_only_their_ward(login: Any, demo_city: None) -> None:
    body = login("official1").get("/api/v1/devices.geojson", {"bbox": CITY_BOX}).json()

    assert {f["properties"]["ward"] for f in body["features"]} == {OWN}


def test_map_endpoints_need_a_staff_login(client: Any, demo_city: None) -> None:
    for path in ("/api/v1/devices.map", "/api/v1/devices.search?q=CAM"):
        assert client.get(path).status_code in (401, 403)


# --- devices.search ----------------------------------------------------------------------------


def test_search_finds_any_visible_device_exact_code_first(
    login: Any, demo_city: None, django_assert_num_queries: Any
) -> None:
    device = Device.objects.order_by("-code").first()
    assert device is not None
    client = login("operator")
    with django_assert_num_queries(3):  # session, user, the search
        body = client.get("/api/v1/devices.search", {"q": device.code.lower()}).json()

    assert body["devices"][0][0] == device.code
    assert len(body["devices"]) <= 20


def test_search_never_finds_another_wards_device(login: Any, demo_city: None) -> None:
    other = Device.objects.filter(ward__code=OTHER).order_by("code").first()
    assert other is not None
    client = login("official1")

    assert client.get("/api/v1/devices.search", {"q": other.code}).json()["devices"] == []
    own = Device.objects.filter(ward__code=OWN).order_by("code").first()
    assert own is not None
    found = client.get("/api/v1/devices.search", {"q": own.code}).json()["devices"]
    assert found[0][0] == own.code and {row[4] for row in found} == {OWN}


def test_search_without_text_is_a_400(login: Any, demo_city: None) -> None:
    response = login("operator").get("/api/v1/devices.search", {"q": "  "})

    assert response.status_code == 400
    assert "q is required" in response.json()["detail"]


@pytest.mark.integration
def test_search_query_can_use_the_trigram_indexes_on_postgresql(demo_city: None) -> None:
    """The indexes of migration cameras 0005 are on the expressions Django writes for the
    search (UPPER(column::text) LIKE ...): with scans of the whole table or of a whole
    index priced out, the plan of the search's own SQL reads both, so a city of 50,000
    devices is not scanned."""
    from cameras import map_selectors

    operator = example_user("operator")
    with CaptureQueriesContext(connection) as queries:
        map_selectors.device_search(operator, "cam-0")
    sql = queries.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cameras_device")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")  # nor a walk of a whole index
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "cameras_device_code_trgm" in plan, plan
    assert "cameras_device_name_trgm" in plan, plan


# --- The embed limit: /ops/ and the snapshot ------------------------------------------------


def test_small_city_snapshot_carries_every_device(demo_city: None) -> None:
    snapshot = snapshot_for(example_user("operator"))

    assert snapshot["devices_embedded"] is True
    assert len(snapshot["devices"]) == Device.objects.count()


def test_above_the_embed_limit_the_snapshot_carries_counts_only(
    demo_city: None, settings: Any
) -> None:
    settings.IOC_MAP_EMBED_LIMIT = 10
    snapshot = snapshot_for(example_user("operator"))

    assert snapshot["devices_embedded"] is False
    assert snapshot["devices"] == {}
    assert sum(k["total"] for k in snapshot["kpis"]["devices"].values()) == Device.objects.count()
    assert "alerts" in snapshot


def test_snapshot_query_count_does_not_grow_with_devices(
    demo_city: None, settings: Any, django_assert_num_queries: Any
) -> None:
    operator = example_user("operator")
    # wards, groups (none: operator), kpis x6, devices, alerts, incidents, requests
    with django_assert_num_queries(11):
        snapshot_for(operator)
    add_devices(OWN, 50)
    with django_assert_num_queries(11):
        snapshot_for(operator)
    settings.IOC_MAP_EMBED_LIMIT = 10
    with django_assert_num_queries(10):  # no device rows at all
        snapshot_for(operator)


def test_ops_page_embeds_devices_only_below_the_limit(
    login: Any, demo_city: None, settings: Any
) -> None:
    client = login("operator")
    code = Device.objects.order_by("code").first().code  # type: ignore[union-attr]
    page = client.get("/ops/").content.decode()
    assert f'"{code}"' in page and 'data-embedded="true"' in page

    settings.IOC_MAP_EMBED_LIMIT = 10
    page = client.get("/ops/").content.decode()
    assert f'"{code}"' not in page
    assert 'data-embedded="false"' in page
    assert "/api/v1/devices.map" in page and "/api/v1/devices.search" in page


def test_ops_page_query_count_does_not_grow_with_devices(
    login: Any, demo_city: None, settings: Any
) -> None:
    settings.IOC_MAP_EMBED_LIMIT = 10
    client = login("operator")
    client.get("/ops/")  # warm caches (ward index, translations)
    with CaptureQueriesContext(connection) as before:
        assert client.get("/ops/").status_code == 200
    add_devices(OWN, 200)
    with CaptureQueriesContext(connection) as after:
        assert client.get("/ops/").status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries) == OPS_PAGE_QUERIES
    # The ward table and the KPI tiles share one count of the devices.
    device_reads = [q["sql"] for q in after.captured_queries if 'FROM "cameras_device"' in q["sql"]]
    assert len(device_reads) == 1 and "GROUP BY" in device_reads[0]


# session, user, wards (table), devices per ward, kind and status (table and KPIs), kpis
# x5 (alerts, incidents, requests open, resolved and rated), wards (snapshot), open alerts
# (snapshot and feed), incidents and requests (snapshot)
OPS_PAGE_QUERIES = 13


def test_kpis_api_query_count_does_not_grow_with_devices(
    login: Any, demo_city: None, django_assert_num_queries: Any
) -> None:
    client = login("operator")
    # session, user, devices by kind, alerts and incidents by severity, requests x3
    with django_assert_num_queries(8):
        before = client.get("/api/v1/kpis").json()
    add_devices(OWN, 50)
    with django_assert_num_queries(8):
        after = client.get("/api/v1/kpis").json()
    assert after["devices"]["camera"]["total"] == before["devices"]["camera"]["total"] + 50


# --- Batched live messages ------------------------------------------------------------------


def reading(device: str, **values: float) -> dict[str, Any]:
    return realtime.Event(
        type=realtime.EventType.DEVICE_READING, ward=OWN, data={"device": device, "values": values}
    ).as_message()


def test_a_windows_messages_leave_together_numbered_one_by_one_with_readings_merged(
    db: None,
) -> None:
    with group_listener() as listener:
        _check_batch(listener)


def _check_batch(listener: GroupListener) -> None:
    channel = listener.join(realtime.CITY_GROUP)
    batcher = Batcher(start=False)
    status = realtime.Event(
        type=realtime.EventType.DEVICE_STATUS, ward=OWN, data={"device": "B", "status": "fault"}
    ).as_message()
    batcher.add([realtime.CITY_GROUP], reading("A", pm25=10))
    batcher.add([realtime.CITY_GROUP], status)
    batcher.add([realtime.CITY_GROUP], reading("A", pm10=20))
    before = realtime.current_seqs([realtime.CITY_GROUP])[realtime.CITY_GROUP]

    batcher.flush(asyncio.new_event_loop(), batcher.pending)

    import json

    # One channel-layer message; the browser gets each event as its own message (the
    # DESIGN.md contract), each with its own seq.
    message = listener.receive(channel)
    events = [json.loads(text) for text in message["texts"]]
    # The same events in one frame, for clients that asked for batched framing.
    assert json.loads(message["batch"]) == {"type": "batch", "group": "city", "events": events}
    assert [e["type"] for e in events] == ["device.reading", "device.status"]
    assert [e["seq"] for e in events] == [before + 1, before + 2]
    assert {e["group"] for e in events} == {realtime.CITY_GROUP}
    assert events[0]["data"]["values"] == {"pm25": 10, "pm10": 20}
    assert realtime.current_seqs([realtime.CITY_GROUP])[realtime.CITY_GROUP] == before + 2
    listener.assert_silent(channel)


def test_geojson_is_the_same_whichever_way_the_rows_are_read(demo_city: None, login: Any) -> None:
    """The plain-cursor rows (PostgreSQL) equal the ORM's, column for column, and the
    bytes written are the FeatureCollection the contract describes."""
    from cameras import map_selectors

    operator = example_user("operator")
    query = map_selectors.MapQuery()
    orm_rows = list(map_selectors._map_rows(map_selectors.devices_on_map(operator, query)))
    assert sorted(map_selectors.device_map_rows(operator, query)) == sorted(orm_rows)
    body = login("operator").get("/api/v1/devices.geojson").json()
    device = Device.objects.select_related("ward").order_by("code").first()
    assert device is not None
    feature = next(f for f in body["features"] if f["id"] == device.code)
    assert feature["geometry"] == {
        "type": "Point",
        "coordinates": [float(device.longitude), float(device.latitude)],
    }
    seen = feature["properties"].pop("last_seen_at")
    assert feature["properties"] == {
        "code": device.code,
        "name": device.name,
        "kind": device.kind,
        "status": device.status,
        "ward": device.ward.code,
    }
    if device.last_seen_at is not None:
        from datetime import datetime

        assert datetime.fromisoformat(seen) == device.last_seen_at
    assert len(body["features"]) == Device.objects.count()


def test_features_written_by_postgresql_are_the_ones_python_writes(demo_city: None) -> None:
    """On PostgreSQL the database writes devices.geojson's features; they must be exactly
    what the Python writer makes of the same rows: odd names escaped as JSON, coordinates
    the same numbers, last_seen_at the same text (with and without a fraction, or null)."""
    import json
    from datetime import UTC, datetime

    from cameras import map_selectors
    from cameras.api import features_from_rows

    odd = [
        'Cổng "Bắc" \\ đường Lương Ngọc Quyến',
        "tab\there, line\nbreak, cr\r, bell\x07",
        "emoji 🚦 and zero\u200bwidth",
    ]
    seen = [
        datetime(2026, 11, 21, 8, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 21, 8, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 21, 8, 0, 0, 500, tzinfo=UTC),
        None,
    ]
    devices = list(Device.objects.order_by("code")[: len(seen)])
    for n, device in enumerate(devices):
        device.name = odd[n % len(odd)]
        device.last_seen_at = seen[n]
    Device.objects.bulk_update(devices, ["name", "last_seen_at"])
    operator = example_user("operator")
    query = map_selectors.MapQuery()

    written = map_selectors.device_features(operator, query)
    python = json.loads(
        b"[" + features_from_rows(map_selectors.device_map_rows(operator, query)) + b"]"
    )
    if connection.vendor != "postgresql":
        assert written is None  # the Python writer serves SQLite
        return
    assert written is not None
    database = json.loads(b"[" + written + b"]")
    assert sorted(database, key=lambda f: f["id"]) == sorted(python, key=lambda f: f["id"])
    by_code = {f["id"]: f["properties"] for f in database}
    assert [by_code[d.code]["last_seen_at"] for d in devices] == [
        "2026-11-21T08:00:00+00:00",
        "2026-11-21T08:00:00.123456+00:00",
        "2026-11-21T08:00:00.000500+00:00",
        None,
    ]
    assert {by_code[d.code]["name"] for d in devices} == set(odd)


def _features_by_code(writer: str) -> dict[str, Any]:
    """The operator's whole map as one writer writes it, by device code."""
    import json

    from cameras import map_selectors
    from cameras.api import features_from_rows

    operator = example_user("operator")
    query = map_selectors.MapQuery()
    if writer == "database":
        written = map_selectors.device_features(operator, query)
        assert written is not None
    else:
        written = features_from_rows(map_selectors.device_map_rows(operator, query))
    return {feature["id"]: feature for feature in json.loads(b"[" + written + b"]")}


@pytest.mark.integration
def test_the_kept_start_of_each_feature_follows_every_kind_of_write(demo_city: None) -> None:
    """PostgreSQL keeps the start of each device's feature on its row (a trigger): a move,
    a rename by a bulk UPDATE, a change of ward, a ward whose code changes, a new status
    and last seen time written as the ingest writes them (those columns only, which the
    trigger leaves alone), a new device, and a row whose kept text is missing all give
    what the Python writer gives."""
    from datetime import UTC, datetime

    first, second, third, fourth = Device.objects.order_by("code")[:4]
    first.latitude, first.longitude = Decimal("21.600001"), Decimal("105.850002")
    first.save()
    Device.objects.filter(pk=second.pk).update(name='Đổi tên "mới" \\ lần 2')
    other = Ward.objects.current().get(code=OTHER)
    Device.objects.filter(pk=third.pk).update(ward=other)
    Ward.objects.filter(pk=other.pk).update(code="99999")
    seen = datetime(2026, 11, 22, 7, 30, 15, 250000, tzinfo=UTC)
    Device.objects.filter(pk=fourth.pk).update(status="offline", last_seen_at=seen)
    add_devices(OWN, 2)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cameras_device SET map_feature = NULL WHERE id = %s", [first.pk])

    database = _features_by_code("database")
    assert database == _features_by_code("python")
    assert database[first.code]["geometry"]["coordinates"] == [105.850002, 21.600001]
    assert database[second.code]["properties"]["name"] == 'Đổi tên "mới" \\ lần 2'
    assert database[third.code]["properties"]["ward"] == "99999"
    assert database[fourth.code]["properties"]["status"] == "offline"
    assert database[fourth.code]["properties"]["last_seen_at"] == "2026-11-22T07:30:15.250000+00:00"
    assert {f["properties"]["ward"] for f in database.values()} >= {"99999", OWN}
