"""Open311 GeoReport v2: discovery, services, filing and reading requests, in JSON and XML,
with the specification's names, defaults and errors, and never any reporter data."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ioc.models import Department
from ioc.tokens import secret_hash
from services import services as svc
from services.choices import RequestSource, RequestStatus
from services.models import Open311Key, RequestEntry, ServiceRequest
from tests.support import OWN_WARD as OWN
from tests.support import example_place, example_user, file_request, jpeg_with_gps

FORMATS = ["json", "xml"]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.fixture
def api_key(demo_city: Any) -> str:
    return svc.open311_key_issue(name="Test client", actor_label="test")


def parse(response: Any, fmt: str) -> Any:
    """The body as Python: JSON as is, XML as the element tree's root."""
    if fmt == "json":
        assert response["Content-Type"] == "application/json; charset=utf-8"
        return json.loads(response.content)
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(response.content)  # noqa: S314 (our own output)


def items(response: Any, fmt: str, root: str, item: str) -> list[dict[str, Any]]:
    """A list answer as dicts of text, whichever the format (XML element names checked)."""
    body = parse(response, fmt)
    if fmt == "json":
        return [
            {
                k: v if v is None or isinstance(v, str | list) else json.dumps(v)
                for k, v in x.items()
            }
            for x in body
        ]
    assert body.tag == root
    assert all(child.tag == item for child in body)
    return [{field.tag: field.text for field in child} for child in body]


def spec_error(response: Any, fmt: str, status: int) -> str:
    """The description of an error in the specification's format, with its status."""
    assert response.status_code == status, response.content
    body = parse(response, fmt)
    if fmt == "json":
        assert len(body) == 1 and body[0]["code"] == status
        return str(body[0]["description"])
    assert body.tag == "errors" and [e.tag for e in body] == ["error"]
    assert [f.tag for f in body[0]] == ["code", "description"]
    assert body[0].findtext("code") == str(status)
    return body[0].findtext("description") or ""


def post(fmt: str, **data: Any) -> Any:
    return Client().post(f"/open311/v2/requests.{fmt}", data)


def pothole(api_key: str, **extra: Any) -> dict[str, Any]:
    lat, lon = example_place(OWN)
    return {
        "api_key": api_key,
        "service_code": "o-ga",
        "lat": str(lat),
        "long": str(lon),
        "description": "Ổ gà lớn trước số 12",
        "attribute[size]": "large",
        **extra,
    }


# --- Discovery and services -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_the_endpoint_with_its_absolute_url(fmt: str, demo_city: Any) -> None:
    response = Client().get(f"/open311/discovery.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "json":
        assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
        endpoint = body["endpoints"][0]
        assert endpoint["formats"] == ["text/xml", "application/json"]
    else:
        assert body.tag == "discovery"
        assert [e.tag for e in body] == ["changeset", "contact", "key_service", "endpoints"]
        endpoint = {e.tag: e.text for e in body.find("endpoints/endpoint")}  # type: ignore[union-attr]
        formats = [f.text for f in body.findall("endpoints/endpoint/formats/format")]
        assert formats == ["text/xml", "application/json"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2/"
    assert endpoint["type"] == "production"


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_list_every_category_filed_here_but_not_complaints(
    fmt: str, demo_city: Any
) -> None:
    response = Client().get(f"/open311/v2/services.{fmt}?jurisdiction_id=anything")
    assert response.status_code == 200
    services = {s["service_code"]: s for s in items(response, fmt, "services", "service")}
    assert "khieu-nai-to-cao" not in services  # legal process: filed elsewhere
    assert "rac-thai" in services and "o-ga" in services
    pothole = services["o-ga"]
    assert set(pothole) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert pothole["metadata"] == "true" and services["rac-thai"]["metadata"] == "false"
    assert pothole["type"] == "realtime" and pothole["group"] == "Giao thông"


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_lists_the_attributes(fmt: str, demo_city: Any) -> None:
    response = Client().get(f"/open311/v2/services/o-ga.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "json":
        assert body["service_code"] == "o-ga"
        attribute = body["attributes"][0]
        values = attribute["values"]
    else:
        assert body.tag == "service_definition"
        assert [e.tag for e in body] == ["service_code", "attributes"]
        element = body.find("attributes/attribute")
        assert element is not None
        attribute = {e.tag: e.text for e in element}
        values = [{v.tag: v.text for v in value} for value in element.findall("values/value")]
    assert list(attribute) == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ]
    assert attribute["code"] == "size" and attribute["datatype"] == "singlevaluelist"
    assert str(attribute["order"]) == "1" and str(attribute["required"]).lower() == "false"
    assert values[0] == {"key": "small", "name": "Nhỏ (dưới 30 cm)"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["khong-co", "khieu-nai-to-cao", "x\x00y"])
def test_unknown_service_definition_is_a_404(fmt: str, code: str, demo_city: Any) -> None:
    response = Client().get(f"/open311/v2/services/{code}.{fmt}")
    assert "service_code" in spec_error(response, fmt, 404)


def test_unknown_format_and_wrong_method_answer_in_the_error_format(demo_city: Any) -> None:
    assert "xml" in spec_error(Client().get("/open311/v2/services.csv"), "json", 404)
    response = Client().delete("/open311/v2/requests.xml")
    spec_error(response, "xml", 405)
    assert response["Allow"] == "GET, HEAD, POST"
    spec_error(Client().post("/open311/v2/services.json"), "json", 405)


# --- Filing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_filed_through_open311_enters_the_workflow(
    fmt: str, api_key: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(fmt, **pothole(api_key))
    assert response.status_code == 200, response.content
    [answer] = items(response, fmt, "service_requests", "request")
    assert set(answer) == {"service_request_id", "service_notice", "account_id", "reporter_url"}
    assert answer["account_id"] is None
    filed = ServiceRequest.objects.get(code=answer["service_request_id"])
    # The reporter's private link: their key, stored only as its hash.
    key = answer["reporter_url"].split("?key=")[1]
    assert answer["reporter_url"].startswith(f"{settings.IOC_PUBLIC_URL}/track/{filed.code}/?key=")
    assert filed.reporter_key_hash == secret_hash(key) and key not in str(filed.__dict__)
    assert filed.source == RequestSource.OPEN311
    assert filed.api_client == Open311Key.objects.get(name="Test client")
    assert filed.ward.code == OWN and filed.status == RequestStatus.NEW
    assert filed.department == Department.objects.get(code="quan-ly-do-thi")
    assert filed.deadline_at > filed.created_at and filed.answers == {"size": "large"}
    assert filed.department.name in answer["service_notice"]
    # ... and it can be read back.
    read = Client().get(f"/open311/v2/requests/{filed.code}.{fmt}")
    [row] = items(read, fmt, "service_requests", "request")
    assert row["service_request_id"] == filed.code and row["status"] == "open"


def test_multivaluelist_attributes_and_the_private_details(api_key: str) -> None:
    from services.models import ServiceCategory

    category = ServiceCategory.objects.get(code="rac-thai")
    category.questions = [
        {
            "code": "kinds",
            "description": "Loại rác",
            "datatype": "multivaluelist",
            "required": True,
            "values": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
        }
    ]
    category.save()
    data = pothole(
        api_key,
        service_code="rac-thai",
        **{"attribute[kinds][]": ["a", "b"]},
        media_url="http://example.org/p.jpg",
        device_id="dev-1",
    )
    response = post("json", **data)
    assert response.status_code == 200, response.content
    filed = ServiceRequest.objects.get(code=response.json()[0]["service_request_id"])
    assert filed.answers == {"kinds": ["a", "b"]}
    note = RequestEntry.objects.get(request=filed, kind="note")
    assert not note.public and note.data == {
        "device_id": "dev-1",
        "media_url": "http://example.org/p.jpg",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_filing_needs_a_valid_active_key(fmt: str, api_key: str) -> None:
    data = pothole(api_key)
    del data["api_key"]
    assert "api_key" in spec_error(post(fmt, **data), fmt, 403)
    assert "api_key" in spec_error(post(fmt, **data, api_key="wrong"), fmt, 403)
    Open311Key.objects.update(is_active=False)
    assert "api_key" in spec_error(post(fmt, **pothole(api_key)), fmt, 403)
    assert ServiceRequest.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "khong-co"}, 404, "service_code"),
        ({"service_code": "khieu-nai-to-cao"}, 400, "Luật Khiếu nại"),
        ({"lat": "", "long": "", "address_string": "12 Hoàng Văn Thụ"}, 400, "lat and long"),
        ({"lat": "abc"}, 400, "lat"),
        ({"long": "nan"}, 400, "long"),
        ({"lat": "21.028511", "long": "105.804817"}, 400, "No unit on the map covers this place"),
        ({"attribute[size]": "galactic"}, 400, "size"),
        ({"service_code": "ngap-ung", "attribute[depth_cm]": "nan"}, 400, "depth_cm"),
        ({"service_code": "ngap-ung", "attribute[depth_cm]": "-inf"}, 400, "depth_cm"),
        ({"description": ""}, 400, "description"),
        ({"email": "not an email"}, 400, "email"),
        ({"start_date": "whenever", "description": "\x00 \U0001f600 𝔘𝔫𝔦"}, 200, ""),
    ],
)
def test_filing_errors_are_in_the_spec_format(
    fmt: str, change: dict[str, str], status: int, says: str, api_key: str, settings: Any
) -> None:
    settings.LANGUAGE_CODE = "en"
    response = Client(headers={"cookie": "django_language=en"}).post(
        f"/open311/v2/requests.{fmt}", {**pothole(api_key), **change}
    )
    if status == 200:
        assert response.status_code == 200
        return
    assert says in spec_error(response, fmt, status)
    assert ServiceRequest.objects.count() == 0


def test_a_huge_body_is_a_413_not_a_500(api_key: str, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post("xml", **pothole(api_key, description="x" * 5000))
    spec_error(response, "xml", 413)


def test_posts_are_rate_limited_per_key(api_key: str, settings: Any) -> None:
    settings.IOC_OPEN311_POSTS_PER_MINUTE = 2
    from django.core.cache import cache

    cache.clear()
    codes = [post("json", **pothole(api_key)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    cache.clear()


# --- Reading requests -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_carry_the_spec_fields_and_map_statuses(fmt: str, demo_city: Any) -> None:
    operator = example_user("operator")
    open_one = file_request(address="Ngõ 12")
    rejected = file_request(category="o-ga")
    svc.request_reject(actor=operator, request=rejected, reason="Đã sửa từ tuần trước")
    response = Client().get(f"/open311/v2/requests.{fmt}")
    rows = {r["service_request_id"]: r for r in items(response, fmt, "service_requests", "request")}
    assert list(rows[open_one.code]) == REQUEST_FIELDS
    assert rows[open_one.code]["status"] == "open"
    assert rows[open_one.code]["address"] == "Ngõ 12"
    assert rows[open_one.code]["expected_datetime"].endswith("+07:00")
    assert rows[rejected.code]["status"] == "closed"
    assert rows[rejected.code]["status_notes"] == "Đã sửa từ tuần trước"
    assert rows[rejected.code]["agency_responsible"] == "Phòng Quản lý đô thị"


@pytest.mark.parametrize("fmt", FORMATS)
def test_request_filters_and_the_90_day_default(fmt: str, demo_city: Any) -> None:
    operator = example_user("operator")
    rubbish, pothole_request, old = file_request(), file_request(category="o-ga"), file_request()
    ServiceRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=100))
    svc.request_reject(actor=operator, request=rubbish, reason="Không thuộc thẩm quyền")

    def codes(query: str) -> set[str]:
        response = Client().get(f"/open311/v2/requests.{fmt}?{query}")
        assert response.status_code == 200, response.content
        return {
            r["service_request_id"] for r in items(response, fmt, "service_requests", "request")
        }

    assert codes("") == {rubbish.code, pothole_request.code}  # the last 90 days
    assert codes("status=open") == {pothole_request.code}
    assert codes("status=open,closed") == {rubbish.code, pothole_request.code}
    assert codes("service_code=o-ga,den-tin-hieu") == {pothole_request.code}
    start = (timezone.now() - timedelta(days=120)).isoformat().replace("+", "%2B")
    end = (timezone.now() - timedelta(days=50)).isoformat().replace("+", "%2B")
    assert codes(f"start_date={start}&end_date={end}") == {old.code}
    assert codes(f"service_request_id={old.code},{rubbish.code}&status=open") == {
        old.code,
        rubbish.code,
    }


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "query",
    [
        "start_date=yesterday",
        "end_date=2026-13-45T00:00:00Z",
        "start_date=2026-01-01T00:00:00",  # no time zone
        "start_date=2026-01-01T00:00:00Z&end_date=2026-12-01T00:00:00Z",  # over 90 days
        "start_date=2026-05-01T00:00:00Z&end_date=2026-04-01T00:00:00Z",
        "status=pending",
    ],
)
def test_bad_request_filters_are_400s(fmt: str, query: str, demo_city: Any) -> None:
    spec_error(Client().get(f"/open311/v2/requests.{fmt}?{query}"), fmt, 400)


@pytest.mark.parametrize(
    "url",
    [
        "/open311/v2/requests.json?service_code=%00&status=open%00",
        "/open311/v2/requests.xml?service_request_id=%00,%ED%A0%80,%FF",
        "/open311/v2/requests.xml?start_date=%00&jurisdiction_id=%FF",
        "/open311/v2/requests/%00%FF.xml",
        "/open311/v2/tokens/%F0%9F%98%80.json",
        "/open311/v2/services/%ED%A0%80.xml",
        "/open311/discovery.XML",
    ],
)
def test_odd_input_never_makes_a_500(url: str, demo_city: Any) -> None:
    response = Client().get(url)
    assert response.status_code in (200, 400, 404), response.content
    parse(response, "xml" if ".xml" in url.lower() else "json")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_request_is_a_404_and_tokens_are_tracking_codes(fmt: str, demo_city: Any) -> None:
    spec_error(Client().get(f"/open311/v2/requests/PA-2020-999999.{fmt}"), fmt, 404)
    spec_error(Client().get(f"/open311/v2/tokens/PA-2020-999999.{fmt}"), fmt, 404)
    filed = file_request()
    response = Client().get(f"/open311/v2/tokens/{filed.code}.{fmt}")
    [row] = items(response, fmt, "service_requests", "request")
    assert row == {"service_request_id": filed.code, "token": filed.code}


def test_media_url_is_the_absolute_url_of_the_first_report_photo(
    demo_city: Any, settings: Any, tmp_path: Any
) -> None:
    from services.photos import photo_prepare

    settings.MEDIA_ROOT = tmp_path
    filed = file_request(photos=[photo_prepare(io.BytesIO(jpeg_with_gps()), name="a.jpg")])
    [row] = Client().get(f"/open311/v2/requests/{filed.code}.json").json()
    assert row["media_url"].startswith("http://testserver/media/requests/")


def test_listing_requests_takes_a_constant_number_of_queries(demo_city: Any) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert Client().get("/open311/v2/requests.xml").status_code == 200
        return len(queries)

    file_request()
    few = count()
    for _ in range(5):
        file_request(category="o-ga")
    assert count() == few <= 2


# --- Privacy ----------------------------------------------------------------------------------


def test_no_output_ever_carries_the_reporters_data(api_key: str) -> None:
    secret = {
        "email": "bi.mat.zq@example.vn",
        "first_name": "Thị Bímật",
        "last_name": "Zquyền",
        "phone": "0987654321",
        "device_id": "DEVICE-ZQ-4242",
        "account_id": "ACCOUNT-ZQ-4242",
    }
    response = post("json", **pothole(api_key, **secret))
    assert response.status_code == 200
    code = response.json()[0]["service_request_id"]
    filed = ServiceRequest.objects.get(code=code)
    assert filed.reporter_name == "Thị Bímật Zquyền" and filed.reporter_phone == "0987654321"
    outputs = []
    for fmt in FORMATS:
        for url in (
            f"/open311/v2/requests.{fmt}",
            f"/open311/v2/requests.{fmt}?service_request_id={code}",
            f"/open311/v2/requests/{code}.{fmt}",
            f"/open311/v2/tokens/{code}.{fmt}",
        ):
            got = Client().get(url)
            assert got.status_code == 200
            outputs.append(got.content.decode())
    assert any(code in output for output in outputs)
    for value in [*secret.values(), "Bímật", "Zquyền"]:
        assert not any(value in output for output in outputs), value


# --- The key command --------------------------------------------------------------------------


def test_the_command_prints_a_key_that_works(demo_city: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_open311_key", "Zalo mini app", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert len(key) > 30 and "shown once" in err.getvalue()
    stored = Open311Key.objects.get(name="Zalo mini app")
    assert stored.key_hash != key and len(stored.key_hash) == 64
    assert post("json", **pothole(key)).status_code == 200


def test_xml_stays_well_formed_with_odd_characters_in_stored_text(demo_city: Any) -> None:
    filed = file_request(description="Control \x01\x1f, emoji 😀, <tag> & “quotes”")
    response = Client().get(f"/open311/v2/requests/{filed.code}.xml")
    [row] = items(response, "xml", "service_requests", "request")
    assert row["description"] == "Control , emoji 😀, <tag> & “quotes”"


# --- A standard client against a real server -------------------------------------------------


@pytest.mark.integration
def test_a_plain_http_client_lists_services_files_and_reads_back(asgi_server: str) -> None:
    import httpx

    key = svc.open311_key_issue(name="E2E client", actor_label="test")
    base = f"{asgi_server}/open311/v2/"
    discovery = httpx.get(f"{asgi_server}/open311/discovery.xml", timeout=10)
    assert ElementTree.fromstring(discovery.content).findtext("endpoints/endpoint/url") == base  # noqa: S314
    services = ElementTree.fromstring(httpx.get(f"{base}services.xml", timeout=10).content)  # noqa: S314
    assert "o-ga" in [s.findtext("service_code") for s in services]
    filed = httpx.post(f"{base}requests.xml", data=pothole(key), timeout=10)
    assert filed.status_code == 200, filed.text
    code = ElementTree.fromstring(filed.content).findtext("request/service_request_id")  # noqa: S314
    [row] = httpx.get(f"{base}requests/{code}.json", timeout=10).json()
    assert row["service_code"] == "o-ga" and row["status"] == "open"


def test_a_merged_request_reads_as_closed_into_the_survivor(demo_city: Any) -> None:
    operator = example_user("operator")
    survivor, duplicate = file_request(), file_request()
    svc.request_merge(actor=operator, duplicate=duplicate, into=survivor)
    [row] = Client().get(f"/open311/v2/requests/{duplicate.code}.json").json()
    assert row["status"] == "closed" and survivor.code in row["status_notes"]
    listed = [r["service_request_id"] for r in Client().get("/open311/v2/requests.json").json()]
    assert listed == [survivor.code]
