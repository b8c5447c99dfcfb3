"""The public portal: filing feedback through the form, tracking, rating and disputing
with the code, the public list and map, abuse controls and privacy."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ioc.tokens import secret_hash
from services import services as svc
from services.choices import PhotoKind, RequestLevel, RequestStatus
from services.models import ServiceRequest
from services.photos import photo_prepare
from tests.support import OWN_WARD as OWN
from tests.support import example_place, example_user, file_request, jpeg, jpeg_upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: Any) -> None:
    settings.IOC_PORTAL_FILINGS_PER_HOUR = 0
    settings.IOC_PORTAL_KEY_FAILURES_PER_HOUR = 0


def fresh_client(address: str) -> Client:
    """A client from its own address with no filings counted yet (Redis outlives runs)."""
    hour = int(time.time() // 3600)
    cache.delete_many(
        [f"ratelimit:portal:{what}:{address}:{hour}" for what in ("filings", "attempts")]
    )
    return Client(REMOTE_ADDR=address)


def form_data(**extra: Any) -> dict[str, Any]:
    lat, lon = example_place(OWN)
    data: dict[str, Any] = {
        "category": "rac-thai",
        "description": "Rác tồn đọng ở đầu ngõ 12",
        "latitude": str(lat),
        "longitude": str(lon),
        "address": "Ngõ 12, đường Hoàng Văn Thụ",
    }
    data.update(extra)
    return data


def post(client: Client, **extra: Any) -> Any:
    return client.post(reverse("portal-feedback-new"), form_data(**extra))


def resolved_request() -> ServiceRequest:
    """A resolved request, with the reporter's key its filing gave (``reporter_key``)."""
    filed = file_request()
    request = svc.request_assign(actor=example_user("operator"), request=filed)
    resolved = svc.request_resolve(
        actor=example_user("operator"), request=request, answer="Đã thu gom rác."
    )
    resolved.reporter_key = filed.reporter_key
    return resolved


def track_url(request: ServiceRequest) -> str:
    return reverse("portal-track", kwargs={"code": request.code})


def open_private_link(client: Client, request: ServiceRequest) -> None:
    """The reporter opens their private link: the browser may act, the key leaves the
    address at once."""
    response = client.get(track_url(request), {"key": request.reporter_key})
    assert response.status_code == 302 and response["Location"] == track_url(request)


# --- Filing ----------------------------------------------------------------------------------


def test_filing_through_the_form_shows_the_tracking_code(demo_city: Any, client: Client) -> None:
    response = post(client, photos=[jpeg_upload()], reporter_email="dan@example.vn")
    assert response.status_code == 302
    created = ServiceRequest.objects.get()
    assert response["Location"] == reverse("portal-feedback-sent", kwargs={"code": created.code})
    page = client.get(response["Location"]).content.decode()
    assert created.code in page and reverse("portal-track", kwargs={"code": created.code}) in page
    assert created.photos.count() == 1 and created.ward.code == OWN


def test_pin_outside_the_city_is_refused_and_the_form_is_kept(
    demo_city: Any, client: Client
) -> None:
    response = post(client, latitude="10.776", longitude="106.700", reporter_name="Nguyễn Văn A")
    page = response.content.decode()
    assert response.status_code == 400 and not ServiceRequest.objects.exists()
    assert 'data-testid="error-location"' in page
    assert "Rác tồn đọng ở đầu ngõ 12" in page and "Nguyễn Văn A" in page


def test_a_pdf_renamed_jpg_is_refused_and_the_form_is_kept(demo_city: Any, client: Client) -> None:
    fake = SimpleUploadedFile("anh.jpg", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "image/jpeg")
    response = post(client, photos=[fake], address="Chợ Đồng Quang")
    page = response.content.decode()
    assert response.status_code == 400 and not ServiceRequest.objects.exists()
    assert 'data-testid="error-photos"' in page and "anh.jpg" in page
    assert "Chợ Đồng Quang" in page and "Rác tồn đọng ở đầu ngõ 12" in page


def test_more_than_three_photos_are_refused(demo_city: Any, client: Client) -> None:
    response = post(client, photos=[jpeg_upload(f"{n}.jpg") for n in range(4)])
    assert response.status_code == 400 and not ServiceRequest.objects.exists()
    assert 'data-testid="error-photos"' in response.content.decode()


def test_a_too_large_filing_gets_a_clear_message(
    demo_city: Any, client: Client, settings: Any
) -> None:
    settings.IOC_PORTAL_MAX_UPLOAD_BYTES = 1000
    response = post(client, photos=[jpeg_upload()])
    assert response.status_code == 413 and not ServiceRequest.objects.exists()
    assert 'data-testid="error-photos"' in response.content.decode()


def test_missing_description_gets_a_message(demo_city: Any, client: Client) -> None:
    response = post(client, description="   ")
    assert response.status_code == 400 and not ServiceRequest.objects.exists()
    assert 'data-testid="error-description"' in response.content.decode()


def test_honeypot_gets_a_fake_success_and_nothing_is_stored(demo_city: Any, client: Client) -> None:
    response = post(client, website="http://spam.example")
    assert (
        response.status_code == 200 and 'data-testid="feedback-sent"' in response.content.decode()
    )
    assert not ServiceRequest.objects.exists()


def test_rate_limit_answers_429_with_a_message(demo_city: Any, settings: Any) -> None:
    settings.IOC_PORTAL_FILINGS_PER_HOUR = 2
    client = fresh_client("203.0.113.77")
    assert [post(client).status_code for _ in range(2)] == [302, 302]
    response = post(client)
    assert response.status_code == 429 and 'data-testid="too-many"' in response.content.decode()
    assert ServiceRequest.objects.count() == 2
    assert post(fresh_client("203.0.113.78")).status_code == 302  # others unaffected


def test_odd_unicode_is_kept(demo_city: Any, client: Client) -> None:
    text = "Ổ gà 🕳️ sâu ～ 30 cm — “nguy hiểm” ‮ɐ‬ 𝕏"
    assert post(client, description=text).status_code == 302
    assert ServiceRequest.objects.get().description == text


def test_extra_questions_of_the_category_are_saved(demo_city: Any, client: Client) -> None:
    response = post(client, category="o-ga", **{"q-o-ga-size": "large"})
    assert response.status_code == 302
    assert ServiceRequest.objects.get().answers == {"size": "large"}


def test_legal_process_category_shows_the_notice_and_cannot_be_filed(
    demo_city: Any, client: Client
) -> None:
    page = client.get(reverse("portal-feedback-new"), {"category": "khieu-nai-to-cao"})
    assert 'data-testid="legal-notice"' in page.content.decode()
    assert 'data-testid="feedback-form"' not in page.content.decode()
    response = post(client, category="khieu-nai-to-cao")
    assert response.status_code == 400 and not ServiceRequest.objects.exists()
    assert 'data-testid="legal-notice"' in response.content.decode()


def test_the_form_lists_categories_grouped_by_field(demo_city: Any, client: Client) -> None:
    page = client.get(reverse("portal-feedback-new")).content.decode()
    assert '<optgroup label="Giao thông">' in page and "Ổ gà, hư hỏng mặt đường" in page


def test_nearby_lists_open_requests_of_the_same_category(demo_city: Any, client: Client) -> None:
    existing = file_request()
    file_request(category="o-ga")
    lat, lon = example_place(OWN)
    data = client.get(
        reverse("portal-nearby"), {"lat": str(lat), "lon": str(lon), "category": "rac-thai"}
    ).json()
    assert [row["code"] for row in data["requests"]] == [existing.code]
    assert data["requests"][0]["url"] == reverse("portal-track", kwargs={"code": existing.code})


# --- Tracking --------------------------------------------------------------------------------


def test_tracking_page_shows_only_the_public_timeline(demo_city: Any, client: Client) -> None:
    request = file_request()
    svc.request_note(actor=example_user("operator"), request=request, text="GHI CHU NOI BO bí mật")
    request = svc.request_assign(actor=example_user("operator"), request=request)
    svc.request_answer(
        actor=example_user("operator"), request=request, text="Đội vệ sinh sẽ đến trong ngày."
    )
    page = client.get(reverse("portal-track", kwargs={"code": request.code})).content.decode()
    assert "GHI CHU NOI BO" not in page
    assert "Đội vệ sinh sẽ đến trong ngày." in page and request.ward.title in page
    assert 'data-testid="deadline"' in page


def test_after_photos_are_shown_and_served(demo_city: Any, client: Client) -> None:
    request = svc.request_assign(actor=example_user("operator"), request=file_request())
    after = photo_prepare(jpeg_upload())
    svc.request_resolve(
        actor=example_user("operator"), request=request, answer="Xong.", after_photo=after
    )
    page = client.get(reverse("portal-track", kwargs={"code": request.code})).content.decode()
    photo = request.photos.get(kind=PhotoKind.AFTER)
    assert 'data-testid="after-photos"' in page and photo.thumbnail.url in page
    served = client.get(photo.thumbnail.url)
    assert served.status_code == 200 and b"".join(served.streaming_content)[:2] == b"\xff\xd8"


def test_citizen_rates_a_resolved_request_once(demo_city: Any, client: Client) -> None:
    request = resolved_request()
    open_private_link(client, request)
    url = reverse("portal-track-rate", kwargs={"code": request.code})
    assert client.post(url, {"rating": "4", "comment": "Nhanh"}).status_code == 302
    request.refresh_from_db()
    assert request.rating == 4 and request.rating_comment == "Nhanh"
    assert client.post(url, {"rating": "1"}).status_code == 400
    request.refresh_from_db()
    assert request.rating == 4


def test_citizen_disputes_and_the_request_reopens_at_the_supervising_level(
    demo_city: Any, client: Client
) -> None:
    request = resolved_request()
    old_deadline = request.deadline_at
    open_private_link(client, request)
    response = client.post(
        reverse("portal-track-dispute", kwargs={"code": request.code}),
        {"reason": "Rác vẫn còn"},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.REOPENED and request.level == RequestLevel.SUPERVISING
    assert request.deadline_at >= old_deadline  # counted again from now, in working hours
    page = client.get(reverse("portal-track", kwargs={"code": request.code})).content.decode()
    assert "Rác vẫn còn" in page


def test_an_open_request_cannot_be_rated_or_disputed(demo_city: Any, client: Client) -> None:
    request = file_request()
    open_private_link(client, request)
    assert (
        client.post(
            reverse("portal-track-rate", kwargs={"code": request.code}), {"rating": "5"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            reverse("portal-track-dispute", kwargs={"code": request.code}), {"reason": "x"}
        ).status_code
        == 400
    )
    request.refresh_from_db()
    assert request.rating is None and request.status == RequestStatus.NEW


@pytest.fixture
def camera_snapshot() -> Iterator[str]:
    """A camera's snapshot where the poller keeps it (MEDIA_ROOT/snapshots/), removed after."""
    path = Path(settings.MEDIA_ROOT) / "snapshots" / "CAM-TEST-TRAVERSAL.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg(label="CCTV"))
    yield path.name
    path.unlink(missing_ok=True)


@pytest.mark.parametrize(
    "dots", ["%2e%2e/", "../", "..%2f", "%2e%2e%2f", "2026/%2e%2e/%2e%2e/"], ids=str
)
def test_no_camera_snapshot_is_served_through_the_photo_route(
    demo_city: Any, client: Client, camera_snapshot: str, dots: str
) -> None:
    response = client.get(f"/media/requests/{dots}snapshots/{camera_snapshot}")
    assert response.status_code == 404
    assert b"CCTV" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_only_a_stored_photo_name_is_served(demo_city: Any, client: Client) -> None:
    stray = Path(settings.MEDIA_ROOT) / "requests" / "not-a-photo-of-any-request.jpg"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(jpeg())
    try:
        assert client.get("/media/requests/not-a-photo-of-any-request.jpg").status_code == 404
    finally:
        stray.unlink()


def test_photos_of_a_merged_request_are_for_staff_in_its_scope_only(demo_city: Any) -> None:
    survivor = file_request()
    duplicate = file_request(photos=[photo_prepare(jpeg_upload())])
    svc.request_merge(actor=example_user("operator"), duplicate=duplicate, into=survivor)
    photo = duplicate.photos.get()
    for url in (photo.image.url, photo.thumbnail.url):
        assert Client().get(url).status_code == 404
        other_ward = Client()
        other_ward.force_login(example_user("official2"))
        assert other_ward.get(url).status_code == 404
        own_ward = Client()
        own_ward.force_login(example_user("official1"))
        served = own_ward.get(url)
        assert served.status_code == 200 and served["Cache-Control"] == "private, no-store"
        assert b"".join(served.streaming_content)[:2] == b"\xff\xd8"


def test_the_tracking_code_alone_cannot_rate_or_dispute(
    demo_city: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    request = resolved_request()
    with django_capture_on_commit_callbacks(execute=True):
        rated = client.post(
            reverse("portal-track-rate", kwargs={"code": request.code}), {"rating": "1"}
        )
        disputed = client.post(
            reverse("portal-track-dispute", kwargs={"code": request.code}),
            {"reason": "Người lạ viết vào dòng thời gian"},
        )
    assert rated.status_code == disputed.status_code == 403
    assert 'data-testid="needs-key"' in disputed.content.decode()
    request.refresh_from_db()
    assert request.rating is None and request.status == RequestStatus.RESOLVED
    assert not request.timeline.filter(text__contains="Người lạ").exists()
    assert not mail.outbox
    page = client.get(track_url(request)).content.decode()
    assert 'data-testid="needs-key"' in page
    assert 'data-testid="rate-form"' not in page and 'data-testid="dispute-form"' not in page


def test_the_private_link_lets_its_browser_act_and_never_shows_the_key(
    demo_city: Any, client: Client
) -> None:
    request = resolved_request()
    response = client.get(track_url(request), {"key": request.reporter_key})
    assert response.status_code == 302 and response["Location"] == track_url(request)
    assert response["Referrer-Policy"] == "no-referrer"
    page = client.get(track_url(request)).content.decode()
    assert 'data-testid="rate-form"' in page and 'data-testid="dispute-form"' in page
    assert request.reporter_key not in page
    # Another browser with the code alone still only reads.
    other = Client().get(track_url(request)).content.decode()
    assert 'data-testid="rate-form"' not in other and 'data-testid="needs-key"' in other


def test_a_wrong_key_is_refused_and_too_many_get_429(demo_city: Any, settings: Any) -> None:
    settings.IOC_PORTAL_KEY_FAILURES_PER_HOUR = 2
    hour = int(time.time() // 3600)
    cache.delete(f"ratelimit:portal:key-failures:203.0.113.7:{hour}")
    client = Client(REMOTE_ADDR="203.0.113.7")
    request, other = resolved_request(), resolved_request()
    wrong = client.get(track_url(request), {"key": other.reporter_key})
    assert wrong.status_code == 403 and wrong["Referrer-Policy"] == "no-referrer"
    rate_url = reverse("portal-track-rate", kwargs={"code": request.code})
    assert client.post(rate_url, {"rating": "5"}).status_code == 403
    # Past the limit even the right key waits: guessing stays as slow as the limit.
    assert client.get(track_url(request), {"key": request.reporter_key}).status_code == 429
    assert client.post(rate_url, {"rating": "5"}).status_code == 429
    request.refresh_from_db()
    assert request.rating is None


def test_a_request_filed_before_keys_cannot_be_rated_on_the_portal(
    demo_city: Any, client: Client
) -> None:
    request = resolved_request()
    ServiceRequest.objects.filter(pk=request.pk).update(reporter_key_hash="")
    assert client.get(track_url(request), {"key": request.reporter_key}).status_code == 403
    assert client.get(track_url(request), {"key": ""}).status_code == 403
    page = client.get(track_url(request)).content.decode()
    assert 'data-testid="needs-key"' in page and 'data-testid="rate-form"' not in page


def test_filing_shows_the_private_link_once_and_mails_it(
    demo_city: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, reporter_email="dan@example.vn")
    created = ServiceRequest.objects.get()
    assert response["Location"] == reverse("portal-feedback-sent", kwargs={"code": created.code})
    sent = client.get(response["Location"])
    assert "no-store" in sent["Cache-Control"]
    shown = re.search(r'value="([^"]+)"[^>]*data-testid="private-link"', sent.content.decode())
    assert shown is not None
    private_url = html.unescape(shown.group(1))
    key = private_url.split("?key=")[1]
    assert private_url == f"{settings.IOC_PUBLIC_URL}{track_url(created)}?key={key}"
    assert created.reporter_key_hash == secret_hash(key)
    [message] = mail.outbox
    assert message.to == ["dan@example.vn"] and private_url in message.body
    # Shown once; the filing browser may act anyway (an open request: the service says
    # "not yet", not "not yours"), another browser needs the link.
    again = client.get(response["Location"]).content.decode()
    assert 'data-testid="private-link"' not in again and key not in again
    dispute_url = reverse("portal-track-dispute", kwargs={"code": created.code})
    assert client.post(dispute_url, {"reason": "x"}).status_code == 400
    assert Client().post(dispute_url, {"reason": "x"}).status_code == 403
    # Nothing public carries the key.
    for url in (
        track_url(created),
        reverse("portal-requests"),
        reverse("portal-requests-geojson"),
        f"/open311/v2/requests/{created.code}.json",
    ):
        assert key not in Client().get(url).content.decode()


def test_a_duplicates_reporter_acts_on_the_request_it_was_merged_into(
    demo_city: Any, client: Client
) -> None:
    survivor, duplicate = file_request(), file_request()
    operator = example_user("operator")
    svc.request_merge(actor=operator, duplicate=duplicate, into=survivor)
    survivor = svc.request_assign(actor=operator, request=survivor)
    svc.request_resolve(actor=operator, request=survivor, answer="Đã thu gom rác.")
    response = client.get(track_url(duplicate), {"key": duplicate.reporter_key})
    assert response.status_code == 302 and response["Location"] == track_url(survivor)
    assert 'data-testid="rate-form"' in client.get(track_url(survivor)).content.decode()


def test_merged_code_redirects_to_the_survivor(demo_city: Any, client: Client) -> None:
    survivor, duplicate = file_request(), file_request()
    svc.request_merge(actor=example_user("operator"), duplicate=duplicate, into=survivor)
    response = client.get(reverse("portal-track", kwargs={"code": duplicate.code}))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal-track", kwargs={"code": survivor.code})


def test_unknown_code_is_a_404_page_with_the_search_box(demo_city: Any, client: Client) -> None:
    response = client.get(reverse("portal-track", kwargs={"code": "PA-2026-999999"}))
    page = response.content.decode()
    assert response.status_code == 404 and 'data-testid="find-box"' in page


def test_find_box_takes_a_code_in_any_case_with_spaces(demo_city: Any, client: Client) -> None:
    request = file_request()
    response = client.get(reverse("portal-find"), {"code": f"  {request.code.lower()} "})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal-track", kwargs={"code": request.code})
    assert client.get(reverse("portal-find"), {"code": "nope"}).status_code == 404


# --- Public list and map ---------------------------------------------------------------------


def test_public_list_filters_by_ward_category_and_state(demo_city: Any, client: Client) -> None:
    rubbish, pothole = file_request(), file_request(category="o-ga")
    resolved = resolved_request()
    url = reverse("portal-requests")
    page = client.get(url, {"category": "o-ga"}).content.decode()
    assert pothole.code in page and rubbish.code not in page
    page = client.get(url, {"state": "resolved"}).content.decode()
    assert resolved.code in page and rubbish.code not in page
    page = client.get(url, {"ward": "00000"}).content.decode()
    assert rubbish.code not in page


def test_public_geojson_has_points_without_personal_fields(demo_city: Any, client: Client) -> None:
    request = file_request()
    data = client.get(reverse("portal-requests-geojson")).json()
    feature = next(f for f in data["features"] if f["properties"]["code"] == request.code)
    assert set(feature["properties"]) == {
        "code",
        "category",
        "status",
        "status_label",
        "open",
        "ward",
        "url",
    }


def test_public_list_reads_a_fixed_number_of_queries(
    demo_city: Any, client: Client, django_assert_max_num_queries: Any
) -> None:
    for _ in range(5):
        file_request()
    with django_assert_max_num_queries(8):
        client.get(reverse("portal-requests-geojson"))
    with django_assert_max_num_queries(8):
        client.get(reverse("portal-requests"))


# --- Privacy ---------------------------------------------------------------------------------


def test_no_public_page_or_json_shows_the_reporters_data(demo_city: Any, client: Client) -> None:
    name, phone, email = "Zebulon Quỳnh Privacy", "0912 345 678", "zebulon.secret@example.vn"
    assert (
        post(
            client,
            photos=[jpeg_upload()],
            reporter_name=name,
            reporter_phone=phone,
            reporter_email=email,
        ).status_code
        == 302
    )
    request = ServiceRequest.objects.get()
    request = svc.request_assign(actor=example_user("operator"), request=request)
    svc.request_answer(actor=example_user("operator"), request=request, text="Đã tiếp nhận.")
    lat, lon = example_place(OWN)
    urls = [
        reverse("portal-home"),
        reverse("portal-requests"),
        reverse("portal-requests") + f"?ward={OWN}&category=rac-thai",
        reverse("portal-requests-geojson"),
        reverse("portal-track", kwargs={"code": request.code}),
        reverse("portal-feedback-sent", kwargs={"code": request.code}),
        reverse("portal-nearby") + f"?lat={lat}&lon={lon}&category=rac-thai",
        reverse("portal-nearby") + f"?lat={lat}&lon={lon}",
    ]
    for url in urls:
        response = Client().get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for secret in (name, phone, email, "Zebulon", "zebulon.secret", "0912345678"):
            assert secret not in body, (url, secret)


def test_failed_attempts_are_limited_more_loosely_than_filings(
    demo_city: Any, settings: Any
) -> None:
    settings.IOC_PORTAL_FILINGS_PER_HOUR = 1
    client = fresh_client("203.0.113.90")
    statuses = [post(client, description="").status_code for _ in range(6)]
    assert statuses == [400, 400, 400, 400, 400, 429]
    assert not ServiceRequest.objects.exists()


def test_rate_limit_counts_the_client_however_it_rewrites_x_forwarded_for(
    demo_city: Any, settings: Any
) -> None:
    settings.IOC_PORTAL_FILINGS_PER_HOUR = 2
    settings.IOC_TRUSTED_PROXY_HOPS = 1
    client = fresh_client("10.0.0.2")  # the proxy: every request arrives from it
    fresh_client("203.0.113.90")  # the citizen, as the proxy appends it

    def post_as(claimed: str) -> int:
        return int(
            client.post(
                reverse("portal-feedback-new"),
                form_data(),
                HTTP_X_FORWARDED_FOR=f"{claimed}, 203.0.113.90",
            ).status_code
        )

    assert [post_as(f"192.0.2.{n}") for n in range(3)] == [302, 302, 429]
    assert ServiceRequest.objects.count() == 2
