"""Personal data over time (Law 91/2025/QH15): reporters' contact details erased after the
retention, audited by field name only; a reporter's data-subject requests on the portal
(see, download, erase) proven with the private link; the processing record for the
administrator, read from the settings."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from ioc.models import AuditEntry
from services import services as svc
from services.choices import EntryKind, PhotoKind, RequestStatus, SubjectRequestKind
from services.models import (
    CONTACT_FIELDS,
    DataSubjectRequest,
    RequestEntry,
    RequestPhoto,
    ServiceRequest,
)
from services.photos import photo_prepare
from services.services.privacy import contacts_erase_due
from services.tasks import privacy_retention_task
from tests.support import example_user, file_request, jpeg_upload

pytestmark = pytest.mark.django_db

NAME, PHONE, EMAIL = "Zebulon Quỳnh Riêng", "0912 345 678", "zebulon.rieng@example.vn"
SECRETS = (NAME, PHONE, EMAIL, "Zebulon", "zebulon.rieng", "0912")


@pytest.fixture(autouse=True)
def _media_and_limits(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IOC_PORTAL_KEY_FAILURES_PER_HOUR = 0
    settings.IOC_CONTACT_RETENTION_DAYS = 180


def reported(**extra: Any) -> ServiceRequest:
    """A request filed with the reporter's contact details and a photo; the instance keeps
    its ``reporter_key``."""
    return file_request(
        reporter_name=NAME,
        reporter_phone=PHONE,
        reporter_email=EMAIL,
        photos=[photo_prepare(jpeg_upload())],
        **extra,
    )


def closed(request: ServiceRequest, *, days_ago: float) -> ServiceRequest:
    """``request`` resolved and closed by staff, its closing moved ``days_ago`` back."""
    operator = example_user("operator")
    request = svc.request_assign(actor=operator, request=request)
    request = svc.request_resolve(actor=operator, request=request, answer="Đã thu gom rác.")
    request = svc.request_close(actor=operator, request=request)
    ServiceRequest.objects.filter(pk=request.pk).update(
        closed_at=timezone.now() - timedelta(days=days_ago)
    )
    return request


def resolved(request: ServiceRequest, *, days_ago: float) -> ServiceRequest:
    """``request`` resolved by staff (not closed), its resolution moved ``days_ago`` back."""
    operator = example_user("operator")
    if request.status != RequestStatus.REOPENED:
        request = svc.request_assign(actor=operator, request=request)
    request = svc.request_resolve(actor=operator, request=request, answer="Xong.")
    ServiceRequest.objects.filter(pk=request.pk).update(
        resolved_at=timezone.now() - timedelta(days=days_ago)
    )
    request.refresh_from_db()
    return request


def erasures(request: ServiceRequest) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            action="request.contact_erased", object_id=str(request.pk)
        ).order_by("id")
    )


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


# --- Erasure by the retention ---------------------------------------------------------------


def test_contact_details_are_erased_after_the_retention_and_audited_by_name_only(
    demo_city: Any,
) -> None:
    request = closed(
        reported(client_details={"device_id": "dev-42", "account_id": "zebulon.rieng"}),
        days_ago=181,
    )
    timeline_before = request.timeline.count()
    assert contacts_erase_due() == 1
    request.refresh_from_db()
    assert all(getattr(request, name) == "" for name in CONTACT_FIELDS)
    assert request.contact_erased_at is not None
    # The request, its timeline and its public photo stay, anonymous.
    assert request.status == RequestStatus.CLOSED and request.description
    assert request.photos.filter(kind=PhotoKind.REPORT).count() == 1
    note = RequestEntry.objects.get(request=request, kind=EntryKind.NOTE)
    assert note.text == "" and note.data == {"erased": ["account_id", "device_id"]}
    line = request.timeline.get(kind=EntryKind.ERASED)
    assert not line.public and line.data["by"] == "retention"
    assert request.timeline.count() == timeline_before + 1
    [entry] = erasures(request)
    names = [*CONTACT_FIELDS, "open311.account_id", "open311.device_id"]
    assert entry.before == dict.fromkeys(names, "held")
    assert entry.after == dict.fromkeys(names, "erased")
    assert entry.actor is None and entry.actor_label == "retention"
    assert entry.ip_address is None and entry.ward_code == request.ward.code
    assert "IOC_CONTACT_RETENTION_DAYS=180" in entry.reason
    # The audit log is not the copy of what was erased.
    assert_no_secret(json.dumps([entry.before, entry.after, entry.reason, entry.object_repr]))
    assert "dev-42" not in json.dumps([entry.before, entry.after])


def test_requests_not_due_keep_their_contact(demo_city: Any) -> None:
    still_open = reported()
    recent = closed(reported(), days_ago=179)
    resolved_recently = resolved(reported(), days_ago=100)
    assert contacts_erase_due() == 0
    for request in (still_open, recent, resolved_recently):
        request.refresh_from_db()
        assert request.reporter_email == EMAIL and request.contact_erased_at is None


def test_resolved_and_rejected_requests_are_erased_once_due(demo_city: Any) -> None:
    done = resolved(reported(), days_ago=181)
    rejected = svc.request_reject(actor=example_user("operator"), request=reported(), reason="x")
    ServiceRequest.objects.filter(pk=rejected.pk).update(
        updated_at=timezone.now() - timedelta(days=181)
    )
    assert contacts_erase_due() == 2
    for request in (done, rejected):
        request.refresh_from_db()
        assert request.reporter_name == "" and request.contact_erased_at is not None


def test_erasure_is_idempotent_and_chunked(demo_city: Any) -> None:
    requests = [closed(reported(), days_ago=200) for _n in range(5)]
    assert contacts_erase_due(chunk_size=2) == 5
    assert contacts_erase_due(chunk_size=2) == 0
    assert AuditEntry.objects.filter(action="request.contact_erased").count() == 5
    for request in requests:
        assert len(erasures(request)) == 1


def test_a_dispute_before_erasure_restarts_the_clock(demo_city: Any, client: Client) -> None:
    request = reported()
    key = request.reporter_key
    request = resolved(request, days_ago=170)
    # The reporter disputes: the request reopens and the clock stops.
    assert client.get(f"/track/{request.code}/", {"key": key}).status_code == 302
    response = client.post(f"/track/{request.code}/dispute/", {"reason": "Rác vẫn còn"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.REOPENED and request.resolved_at is None
    ServiceRequest.objects.filter(pk=request.pk).update(
        updated_at=timezone.now() - timedelta(days=400)
    )
    assert contacts_erase_due() == 0
    # Resolved again today: 180 days from now, not from the first resolution.
    request = resolved(request, days_ago=0)
    assert contacts_erase_due() == 0
    assert contacts_erase_due(now=timezone.now() + timedelta(days=181)) == 1


def test_a_merged_duplicate_keeps_its_contact_while_the_request_it_joined_is_open(
    demo_city: Any,
) -> None:
    survivor, duplicate = file_request(), reported()
    svc.request_merge(actor=example_user("operator"), duplicate=duplicate, into=survivor)
    ServiceRequest.objects.filter(pk=duplicate.pk).update(
        closed_at=timezone.now() - timedelta(days=400)
    )
    assert contacts_erase_due() == 0
    closed(survivor, days_ago=181)
    assert contacts_erase_due() == 2  # the survivor's reporter's and the duplicate's
    duplicate.refresh_from_db()
    assert duplicate.reporter_email == "" and duplicate.contact_erased_at is not None


def test_after_erasure_the_request_works_without_contact(
    demo_city: Any, client: Client, login: Any
) -> None:
    request = reported()
    key = request.reporter_key
    request = resolved(request, days_ago=181)
    assert contacts_erase_due() == 1
    # Staff still work it (reopen, resolve) and its page says the contact is erased.
    operator = example_user("operator")
    request = svc.request_reopen(actor=operator, request=request, reason="Kiểm tra lại")
    svc.request_resolve(actor=operator, request=request, answer="Xong hẳn.")
    page = login("operator").get(f"/ops/requests/{request.code}/").content.decode()
    assert 'data-testid="contact-erased"' in page
    assert_no_secret(page)
    # The public page still reads; the private link no longer exists.
    assert client.get(f"/track/{request.code}/").status_code == 200
    assert client.get(f"/track/{request.code}/", {"key": key}).status_code == 403


def test_the_retention_runs_hourly_from_the_beat_as_one_task(demo_city: Any) -> None:
    Session.objects.filter(expire_date__lt=timezone.now()).delete()
    schedule = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"services.tasks.privacy_retention_task", "ioc.tasks.audit_prune_task"} <= schedule
    request = closed(reported(), days_ago=181)
    expired = Session.objects.create(
        session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(hours=1)
    )
    live = Session.objects.create(
        session_key="y" * 32, session_data="", expire_date=timezone.now() + timedelta(hours=1)
    )
    assert privacy_retention_task() == {
        "contacts_erased": 1,
        "snapshots_removed": 0,
        "sessions_cleared": 1,
    }
    assert not Session.objects.filter(pk=expired.pk).exists()
    assert Session.objects.filter(pk=live.pk).exists()
    request.refresh_from_db()
    assert request.contact_erased_at is not None


def test_a_retention_of_zero_erases_at_the_next_run_after_the_end(
    demo_city: Any, settings: Any
) -> None:
    settings.IOC_CONTACT_RETENTION_DAYS = 0
    request = closed(reported(), days_ago=0)
    assert contacts_erase_due() == 1
    request.refresh_from_db()
    assert request.reporter_phone == ""


# --- Data-subject requests on the portal ----------------------------------------------------


def my_data_url(request: ServiceRequest) -> str:
    return reverse("portal-my-data", kwargs={"code": request.code})


def proven(client: Client, request: ServiceRequest) -> None:
    """The reporter opens their private link in ``client``."""
    response = client.get(f"/track/{request.code}/", {"key": request.reporter_key})
    assert response.status_code == 302


def test_the_reporter_sees_what_is_held_with_the_private_link(
    demo_city: Any, client: Client
) -> None:
    request = reported()
    proven(client, request)
    response = client.get(my_data_url(request))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert NAME in page and PHONE in page and EMAIL in page
    photo = request.photos.get()
    assert photo.thumbnail.url in page and request.description in page
    assert request.reporter_key not in page
    row = DataSubjectRequest.objects.get(request=request)
    assert row.kind == SubjectRequestKind.ACCESS and row.outcome == "answered"
    assert row.answered_at is not None and row.details == {"format": "page"}
    entry = AuditEntry.objects.get(action="request.subject_access")
    assert entry.ip_address is None and entry.actor_label == "reporter"


def test_the_reporter_downloads_what_is_held_as_json(demo_city: Any, client: Client) -> None:
    request = reported(client_details={"device_id": "dev-42"})
    proven(client, request)
    response = client.get(reverse("portal-my-data-json", kwargs={"code": request.code}))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith("attachment;")
    held = response.json()
    assert held["contact"]["reporter_name"] == NAME
    assert held["contact"]["reporter_email"] == EMAIL
    assert held["client_details"] == {"device_id": "dev-42"}
    assert held["network_addresses"] == []
    assert [photo["image"] for photo in held["photos"]] == [request.photos.get().image.url]
    assert held["request"]["description"] == request.description
    assert held["contact_retention_days"] == 180
    assert DataSubjectRequest.objects.get(request=request).details == {"format": "json"}


def test_the_private_link_can_be_pasted_on_the_page(demo_city: Any, client: Client) -> None:
    request = reported()
    link = f"http://127.0.0.1:8000/track/{request.code}/?key={request.reporter_key}"
    response = client.post(my_data_url(request), {"key": link})
    assert response.status_code == 302 and response["Location"] == my_data_url(request)
    assert EMAIL in client.get(my_data_url(request)).content.decode()


def test_without_the_secret_nothing_is_shown_and_refusals_are_limited(
    demo_city: Any, settings: Any
) -> None:
    settings.IOC_PORTAL_KEY_FAILURES_PER_HOUR = 3
    address = "203.0.113.91"
    cache.delete(f"ratelimit:portal:key-failures:{address}:{int(time.time() // 3600)}")
    client = Client(REMOTE_ADDR=address)
    request, other = reported(), reported()
    missing = client.get(my_data_url(request))
    assert missing.status_code == 403 and 'data-testid="key-refused"' in missing.content.decode()
    assert_no_secret(missing.content.decode())
    wrong = client.post(my_data_url(request), {"key": other.reporter_key})
    assert wrong.status_code == 403
    assert_no_secret(wrong.content.decode())
    as_json = client.get(reverse("portal-my-data-json", kwargs={"code": request.code}))
    assert as_json.status_code == 403 and "error" in as_json.json()
    # Past the limit even the right key waits.
    assert client.post(my_data_url(request), {"key": request.reporter_key}).status_code == 429
    erase = reverse("portal-my-data-erase", kwargs={"code": request.code})
    assert client.post(erase, {"what": "contact", "confirm": "on"}).status_code == 429
    request.refresh_from_db()
    assert request.reporter_email == EMAIL
    assert not DataSubjectRequest.objects.exists()


def test_another_requests_private_link_opens_only_its_own_data(
    demo_city: Any, client: Client
) -> None:
    mine = reported()
    theirs = file_request(reporter_name="Người Khác", reporter_email="khac@example.vn")
    proven(client, mine)
    assert client.get(my_data_url(theirs)).status_code == 403
    assert client.post(my_data_url(theirs), {"key": mine.reporter_key}).status_code == 403


def test_a_duplicates_reporter_sees_their_own_data_not_the_survivors(
    demo_city: Any, client: Client
) -> None:
    survivor = file_request(reporter_name="Người Giữ Lại", reporter_email="giu@example.vn")
    duplicate = reported()
    svc.request_merge(actor=example_user("operator"), duplicate=duplicate, into=survivor)
    proven(client, duplicate)
    track = client.get(f"/track/{survivor.code}/").content.decode()
    assert my_data_url(duplicate) in track  # the survivor's page leads to their own data
    page = client.get(my_data_url(duplicate)).content.decode()
    assert EMAIL in page and "giu@example.vn" not in page
    assert client.get(my_data_url(survivor)).status_code == 403


def test_the_reporter_erases_their_contact_at_once(
    demo_city: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    request = reported()
    key = request.reporter_key
    proven(client, request)
    erase = reverse("portal-my-data-erase", kwargs={"code": request.code})
    assert client.post(erase, {"what": "contact"}).status_code == 400  # not confirmed
    # The notice is worded in the language of the request that erased (a stored message).
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(erase, {"what": "contact", "confirm": "on"})
    assert response.status_code == 302 and response["Location"] == f"/track/{request.code}/"
    told = client.get(response["Location"]).content.decode()
    assert "Your contact details have been erased" in told
    request.refresh_from_db()
    assert all(getattr(request, name) == "" for name in CONTACT_FIELDS)
    assert request.contact_erased_at is not None and request.is_open
    assert request.photos.count() == 1  # photos stay unless asked
    row = DataSubjectRequest.objects.get(request=request, kind=SubjectRequestKind.ERASURE)
    assert row.outcome == "erased" and row.answered_at is not None
    assert row.details == {"fields": list(CONTACT_FIELDS), "photos": 0}
    [entry] = erasures(request)
    assert entry.actor_label == "reporter" and entry.ip_address is None
    assert entry.reason == f"data-subject request {row.pk}"
    assert_no_secret(json.dumps([entry.before, entry.after]))
    recorded = AuditEntry.objects.get(action="request.subject_erasure")
    assert recorded.object_id == str(row.pk) and recorded.ip_address is None
    # The browser forgets the key, which no longer exists anywhere.
    assert client.get(my_data_url(request)).status_code == 403
    assert client.get(f"/track/{request.code}/", {"key": key}).status_code == 403
    # Staff see that it happened, not what was there.
    assert request.timeline.get(kind=EntryKind.ERASED).data["by"] == "reporter"
    # The retention finds nothing more to do.
    closed(request, days_ago=400)
    assert contacts_erase_due() == 0


def test_the_reporter_erases_their_photos_too_and_staff_photos_stay(
    demo_city: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    request = reported()
    operator = example_user("operator")
    request_obj = svc.request_assign(actor=operator, request=request)
    svc.request_resolve(
        actor=operator,
        request=request_obj,
        answer="Xong.",
        after_photo=photo_prepare(jpeg_upload()),
    )
    mine = request.photos.get(kind=PhotoKind.REPORT)
    files = [Path(mine.image.path), Path(mine.thumbnail.path)]
    assert all(path.exists() for path in files)
    proven(client, request)
    erase = reverse("portal-my-data-erase", kwargs={"code": request.code})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(erase, {"what": "contact_photos", "confirm": "on"})
    assert response.status_code == 302
    assert not RequestPhoto.objects.filter(pk=mine.pk).exists()
    assert not any(path.exists() for path in files)
    assert request.photos.filter(kind=PhotoKind.AFTER).count() == 1
    [entry] = erasures(request)
    assert entry.before["photos"] == 1 and entry.after["photos"] == 0
    row = DataSubjectRequest.objects.get(kind=SubjectRequestKind.ERASURE_PHOTOS)
    assert row.details["photos"] == 1
    assert client.get(mine.thumbnail.url).status_code == 404


def test_no_public_page_shows_contact_data_even_after_a_subject_request(
    demo_city: Any, client: Client
) -> None:
    request = reported()
    proven(client, request)
    client.get(my_data_url(request))
    for url in (
        f"/track/{request.code}/",
        my_data_url(request),
        reverse("portal-my-data-json", kwargs={"code": request.code}),
        reverse("portal-requests"),
        reverse("portal-requests-geojson"),
        f"/open311/v2/requests/{request.code}.json",
    ):
        body = Client().get(url).content.decode()
        assert_no_secret(body)
    # The reporter's own browser sees its track page without the contact either.
    assert_no_secret(client.get(f"/track/{request.code}/").content.decode())


# --- The administrator's view ---------------------------------------------------------------


def test_administrators_read_subject_requests_and_the_processing_record(
    demo_city: Any, client: Client, login: Any, settings: Any
) -> None:
    settings.IOC_CONTACT_RETENTION_DAYS = 30
    settings.IOC_AUDIT_RETENTION_DAYS = 400
    settings.IOC_SNAPSHOT_RETENTION_DAYS = 7
    request = reported()
    proven(client, request)
    client.get(my_data_url(request))
    closed(reported(), days_ago=31)
    admin = login("admin")
    admin.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    listing = admin.get(reverse("admin:services_datasubjectrequest_changelist"))
    assert listing.status_code == 200 and request.code in listing.content.decode()
    assert 'data-testid="processing-record-link"' in listing.content.decode()
    page = admin.get(reverse("admin:services_processing_record"))
    assert page.status_code == 200
    text = page.content.decode()
    with translation.override("en"):
        labels = [str(ServiceRequest._meta.get_field(name).verbose_name) for name in CONTACT_FIELDS]
    for label in labels:
        assert label.replace("'", "&#x27;") in text, label
    assert "30 days" in text and "400 days" in text and "7 days" in text
    assert "IOC_CONTACT_RETENTION_DAYS" in text and "IOC_AUDIT_RETENTION_DAYS" in text
    assert_no_secret(text)
    settings.IOC_AUDIT_RETENTION_DAYS = 0
    assert (
        "IOC_AUDIT_RETENTION_DAYS is 0"
        in admin.get(reverse("admin:services_processing_record")).content.decode()
    )


def test_the_processing_record_counts_what_is_held_and_due(demo_city: Any) -> None:
    from services.privacy_selectors import processing_record

    closed(reported(), days_ago=200)
    reported()

    def figures() -> dict[str, Any]:
        with translation.override("en"):
            return dict({r.key: r for r in processing_record()}["contact"].figures)

    held = ServiceRequest.objects.filter(contact_erased_at__isnull=True).count()
    assert figures()["requests holding contact details"] == held
    assert figures()["due for erasure now"] == 1
    contacts_erase_due()
    assert figures()["due for erasure now"] == 0
    assert figures()["erasures in the audit log"] == 1


def test_staff_who_are_not_administrators_cannot_read_the_processing_record(
    demo_city: Any, login: Any
) -> None:
    for username in ("operator", "official1"):
        response = login(username).get(reverse("admin:services_processing_record"))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
