"""Citizen requests: filing, every staff state change, the citizen's rating and dispute,
merging, deadlines, photos, scoping, audit, live events and emails."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from PIL import Image

from ioc import realtime
from ioc.models import Alert, AuditEntry, Department
from services import services as svc
from services.choices import RequestLevel, RequestStatus
from services.models import RequestEntry, ServiceCategory, ServiceRequest
from services.photos import photo_prepare
from services.selectors import requests_visible_to
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import GroupListener, example_user, file_request, jpeg_with_gps

# --- Filing ----------------------------------------------------------------------------------


def test_filing_gives_a_tracking_code_ward_unit_and_working_hours_deadline(
    demo_city: Any,
) -> None:
    first = file_request(reporter_email="dan@example.vn")
    second = file_request(category="o-ga", answers={"size": "large"})
    year = timezone.localtime(first.created_at).year
    assert first.code == f"PA-{year}-000001" and second.code == f"PA-{year}-000002"
    assert first.ward.code == OWN and first.status == RequestStatus.NEW
    assert first.department is None  # rubbish: the ward handles it
    assert second.department == Department.objects.get(code="quan-ly-do-thi")
    assert second.answers == {"size": "large"}
    assert first.deadline_at > first.created_at
    assert [e.kind for e in first.timeline.all()] == ["received"]


def test_a_pin_outside_the_city_is_refused_and_nothing_is_stored(demo_city: Any) -> None:
    with pytest.raises(ValidationError) as error:
        svc.request_create(
            category=ServiceCategory.objects.get(code="rac-thai"),
            description="Ở Hà Nội",
            latitude=Decimal("21.028511"),
            longitude=Decimal("105.804817"),
        )
    assert "location" in error.value.message_dict
    assert ServiceRequest.objects.count() == 0


def test_complaints_are_not_filed_here(demo_city: Any) -> None:
    with pytest.raises(ValidationError) as error:
        file_request(category="khieu-nai-to-cao")
    assert "Luật Khiếu nại" in " ".join(error.value.messages)


def test_answers_are_checked_against_the_categorys_questions(demo_city: Any) -> None:
    with pytest.raises(ValidationError) as error:
        file_request(category="o-ga", answers={"size": "galactic"})
    assert "size" in error.value.message_dict
    with pytest.raises(ValidationError):
        file_request(category="ngap-ung", answers={"depth_cm": "sâu lắm"})
    assert file_request(category="ngap-ung", answers={"depth_cm": "35,5"}).answers == {
        "depth_cm": 35.5
    }


def test_filing_is_published_to_the_ward_with_no_reporter_data(
    demo_city: Any, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    own, other = (
        listener.join(realtime.ward_requests_group(OWN)),
        listener.join(realtime.ward_requests_group(OTHER)),
    )
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(reporter_name="Nguyễn Văn A", reporter_phone="0912345678")
    event = listener.receive(own)["event"]
    assert (event["type"], event["data"]["code"]) == ("request.created", request.code)
    assert "Nguyễn Văn A" not in str(event) and "0912345678" not in str(event)
    listener.assert_silent(other)


# --- Photos ----------------------------------------------------------------------------------


def test_a_photo_is_reencoded_without_exif_and_resized(
    demo_city: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    prepared = photo_prepare(io.BytesIO(jpeg_with_gps()), name="anh.jpg")
    request = file_request(photos=[prepared])
    photo = request.photos.get()
    with Image.open(photo.image.path) as stored:
        assert max(stored.size) == 1600
        assert not stored.getexif()  # no GPS, no camera
    with Image.open(photo.thumbnail.path) as thumb:
        assert max(thumb.size) == 400


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.4 not a photo", b"", "truncated", b"GIF89a" + b"\x00" * 20],
)
def test_a_fake_or_broken_photo_gets_a_clear_message(content: bytes | str) -> None:
    if content == "truncated":
        content = jpeg_with_gps()[:400]
    assert isinstance(content, bytes)
    with pytest.raises(ValidationError) as error:
        photo_prepare(io.BytesIO(content), name="anh.jpg")
    assert "anh.jpg" in error.value.messages[0]


def test_an_oversized_photo_is_refused_before_decoding() -> None:
    with pytest.raises(ValidationError) as error:
        photo_prepare(io.BytesIO(b"\xff" * (8 * 1024 * 1024 + 1)), name="to.jpg")
    assert "8 MB" in error.value.messages[0]


# --- Staff workflow ------------------------------------------------------------------------------


def test_the_whole_life_of_a_request_is_recorded_audited_and_emailed(
    demo_city: Any, django_capture_on_commit_callbacks: Any
) -> None:
    official = example_user("official1")
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(reporter_email="dan@example.vn")
        svc.request_triage(actor=official, request=request)
        svc.request_assign(actor=official, request=request, assignee=official)
        svc.request_start(actor=official, request=request)
        svc.request_note(actor=official, request=request, text="Gọi đội vệ sinh")
        svc.request_answer(actor=official, request=request, text="Đã cử người kiểm tra")
        with pytest.raises(ValidationError):
            svc.request_resolve(actor=official, request=request, answer="  ")
        svc.request_resolve(actor=official, request=request, answer="Đã thu gom hết rác")
    request.refresh_from_db()
    assert request.status == RequestStatus.RESOLVED and request.resolved_at
    kinds = list(request.timeline.values_list("kind", "public"))
    assert kinds == [
        ("received", True),
        ("triaged", True),
        ("assigned", True),
        ("started", True),
        ("note", False),
        ("answer", True),
        ("resolved", True),
    ]
    actions = set(
        AuditEntry.objects.filter(object_id=str(request.pk)).values_list("action", flat=True)
    )
    assert {"request.triaged", "request.assigned", "request.resolved", "request.noted"} <= actions
    assert all(message.to == ["dan@example.vn"] for message in mail.outbox)
    assert len(mail.outbox) >= 4
    assert (
        request.code in mail.outbox[-1].body and f"/track/{request.code}/" in mail.outbox[-1].body
    )


def test_rejecting_needs_a_reason_and_reopening_gives_a_new_deadline(demo_city: Any) -> None:
    operator = example_user("operator")
    request = file_request()
    with pytest.raises(ValidationError):
        svc.request_reject(actor=operator, request=request, reason="")
    svc.request_reject(actor=operator, request=request, reason="Không thuộc thẩm quyền")
    request.refresh_from_db()
    assert (request.status, request.rejection_reason) == ("rejected", "Không thuộc thẩm quyền")
    old_deadline = request.deadline_at
    svc.request_reopen(actor=operator, request=request, reason="Kiểm tra lại")
    request.refresh_from_db()
    assert request.status == RequestStatus.REOPENED and request.deadline_at >= old_deadline


def test_impossible_moves_are_refused(demo_city: Any) -> None:
    operator = example_user("operator")
    request = file_request()
    with pytest.raises(ValidationError):
        svc.request_close(actor=operator, request=request)
    with pytest.raises(ValidationError):
        svc.request_start(actor=operator, request=request)  # not assigned yet


def test_a_ward_official_cannot_touch_another_wards_request(demo_city: Any) -> None:
    request = file_request(OTHER)
    with pytest.raises(PermissionDenied):
        svc.request_triage(actor=example_user("official1"), request=request)
    assert request.timeline.count() == 1


def test_department_staff_see_and_work_only_requests_routed_to_them(demo_city: Any) -> None:
    staff = example_user("department1")  # Phòng Quản lý đô thị
    theirs = file_request(category="o-ga")
    ward_request = file_request()
    assert list(requests_visible_to(staff)) == [theirs]
    svc.request_triage(actor=staff, request=theirs)
    with pytest.raises(PermissionDenied):
        svc.request_triage(actor=staff, request=ward_request)


def test_forwarding_to_a_department_changes_who_sees_it(demo_city: Any) -> None:
    operator, staff = example_user("operator"), example_user("department1")
    request = file_request()
    assert request not in requests_visible_to(staff)
    svc.request_assign(
        actor=operator, request=request, department=Department.objects.get(code="quan-ly-do-thi")
    )
    assert request in requests_visible_to(staff)
    entry = request.timeline.get(kind="assigned")
    assert entry.public and entry.text == "Phòng Quản lý đô thị"


# --- The citizen ------------------------------------------------------------------------------


def resolved(**extra: Any) -> ServiceRequest:
    operator = example_user("operator")
    request = file_request(**extra)
    svc.request_assign(actor=operator, request=request)
    return svc.request_resolve(actor=operator, request=request, answer="Đã xử lý")


def test_the_citizen_rates_once_from_one_to_five(demo_city: Any) -> None:
    request = file_request()
    with pytest.raises(ValidationError):
        svc.request_rate(request=request, rating=5)  # not resolved yet
    request = resolved()
    for bad in (0, 6):
        with pytest.raises(ValidationError):
            svc.request_rate(request=request, rating=bad)
    svc.request_rate(request=request, rating=4, comment="Nhanh")
    with pytest.raises(ValidationError):
        svc.request_rate(request=request, rating=5)
    request.refresh_from_db()
    assert (request.rating, request.rating_comment) == (4, "Nhanh")


def test_a_dispute_reopens_at_the_supervising_level_with_a_new_deadline(demo_city: Any) -> None:
    request = resolved()
    svc.request_dispute(request=request, reason="Rác vẫn còn")
    request.refresh_from_db()
    assert (request.status, request.level) == (RequestStatus.REOPENED, RequestLevel.SUPERVISING)
    assert request.deadline_at > timezone.now()
    assert request.timeline.filter(kind="disputed", text="Rác vẫn còn").exists()
    with pytest.raises(ValidationError):
        svc.request_dispute(request=request, reason="again")


# --- Merging and deadlines ----------------------------------------------------------------------


def test_merging_closes_the_duplicate_and_its_reporter_follows_the_survivor(
    demo_city: Any, django_capture_on_commit_callbacks: Any
) -> None:
    operator = example_user("operator")
    survivor = file_request(reporter_email="a@example.vn")
    duplicate = file_request(reporter_email="b@example.vn")
    svc.request_merge(actor=operator, duplicate=duplicate, into=survivor)
    duplicate.refresh_from_db()
    assert duplicate.status == RequestStatus.CLOSED and duplicate.merged_into == survivor
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        svc.request_answer(actor=operator, request=survivor, text="Đang xử lý")
    assert sorted(mail.outbox[0].to) == ["a@example.vn", "b@example.vn"]
    with pytest.raises(ValidationError):
        svc.request_merge(actor=operator, duplicate=survivor, into=survivor)


def test_the_sweep_warns_near_the_deadline_then_escalates_once(demo_city: Any) -> None:
    request = file_request()
    span = request.deadline_at - request.created_at
    assert svc.requests_deadline_sweep(now=request.created_at + span * 0.5) == {
        "warned": 0,
        "escalated": 0,
    }
    assert svc.requests_deadline_sweep(now=request.created_at + span * 0.9) == {
        "warned": 1,
        "escalated": 0,
    }
    alert = Alert.objects.get(cause=f"request:{request.code}")
    assert alert.ward.code == OWN and alert.severity == "warning"
    assert svc.requests_deadline_sweep(now=request.deadline_at + timedelta(minutes=1)) == {
        "warned": 0,
        "escalated": 1,
    }
    assert svc.requests_deadline_sweep(now=request.deadline_at + timedelta(hours=1)) == {
        "warned": 0,
        "escalated": 0,
    }
    request.refresh_from_db()
    assert request.level == RequestLevel.SUPERVISING
    assert not RequestEntry.objects.filter(request=request, kind="escalated", public=True).exists()
    operator = example_user("operator")
    svc.request_assign(actor=operator, request=request)
    svc.request_resolve(actor=operator, request=request, answer="Xong")
    alert.refresh_from_db()
    assert alert.status == "resolved"  # the deadline alert goes with the request
