"""The demo's month of citizen requests (``ioc.demo.month_requests``): every state, lives
the workflow allows, audited staff steps, the working calendar's deadlines with the late
ones showing, ratings and a dispute, photos, and the June 2025 requests the reform moved.

The month is written once for the module (a few seconds) inside a transaction rolled back
at its end; each test runs in a savepoint within it."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone
from PIL import Image

from ioc.choices import AlertKind, AlertStatus
from ioc.demo import data
from ioc.demo.month_requests import REFORM_MOMENT, RequestsSummary, requests_month
from ioc.models import Alert, AuditEntry, User, WardSuccession
from ioc.provinces import REFORM_DATE
from services.calendar import CITY_TIME_ZONE, working_calendar
from services.choices import EntryKind, RequestLevel, RequestStatus
from services.models import (
    OPEN_STATUSES,
    RequestEntry,
    RequestPhoto,
    ServiceRequest,
    TrackingCounter,
)
from services.selectors import request_kpis, requests_visible_to
from services.services.workflow import TRANSITIONS

STAFF_NAMES = ("operator", "official1", "official2", "department1")
# The entries that change a request's status, and to what.
STATUS_OF_ENTRY = {
    EntryKind.TRIAGED: RequestStatus.TRIAGED,
    EntryKind.ASSIGNED: RequestStatus.ASSIGNED,
    EntryKind.STARTED: RequestStatus.IN_PROGRESS,
    EntryKind.RESOLVED: RequestStatus.RESOLVED,
    EntryKind.CLOSED: RequestStatus.CLOSED,
    EntryKind.REJECTED: RequestStatus.REJECTED,
    EntryKind.REOPENED: RequestStatus.REOPENED,
    EntryKind.DISPUTED: RequestStatus.REOPENED,
}


def _staff() -> dict[str, User]:
    return {user.username: user for user in User.objects.filter(username__in=STAFF_NAMES)}


@pytest.fixture(scope="module")
def month(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RequestsSummary, datetime]]:
    now = timezone.now()
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media), transaction.atomic():
        summary = requests_month(rng=random.Random(7), now=now, staff=_staff())
        yield summary, now
        transaction.set_rollback(True)


@pytest.fixture
def requests(month: Any, db: Any) -> list[ServiceRequest]:
    return list(
        ServiceRequest.objects.select_related("category", "ward").order_by("created_at", "pk")
    )


def _timeline(request: ServiceRequest) -> list[RequestEntry]:
    return list(request.timeline.order_by("at", "pk"))


def test_a_first_look_shows_the_months_figures(requests: list[ServiceRequest]) -> None:
    operator = User.objects.get(username="operator")
    figures = request_kpis(operator)
    assert figures["resolved_30d"] > 100
    assert figures["open"] > 0
    assert figures["on_time_pct"] is not None and 50 < figures["on_time_pct"] < 100  # some late
    assert figures["satisfaction"] is not None and 1 <= figures["satisfaction"] <= 5
    assert figures["rated_30d"] > 0


def test_every_timeline_is_a_walk_the_workflow_allows_ending_in_the_requests_state(
    requests: list[ServiceRequest], month: tuple[RequestsSummary, datetime]
) -> None:
    _summary, now = month
    for request in requests:
        lines = _timeline(request)
        assert lines[0].kind == EntryKind.RECEIVED and lines[0].at == request.created_at
        assert all(line.at <= now for line in lines)
        assert request.updated_at == max(line.at for line in lines)
        status = RequestStatus.NEW
        for line in lines:
            if line.kind == EntryKind.MERGED and line.public:  # this one is the duplicate
                assert status in OPEN_STATUSES
                status = RequestStatus.CLOSED
            elif line.kind == EntryKind.DISPUTED:  # the citizen's, outside TRANSITIONS
                assert status == RequestStatus.RESOLVED
                status = RequestStatus.REOPENED
            elif line.kind in STATUS_OF_ENTRY:
                assert STATUS_OF_ENTRY[line.kind] in TRANSITIONS[status], (request.code, line)
                status = STATUS_OF_ENTRY[line.kind]
        assert status == request.status, request.code
        answered = request.status in (RequestStatus.RESOLVED, RequestStatus.CLOSED)
        assert (request.resolved_at is not None) == (answered and not request.merged_into_id)
        assert (request.closed_at is not None) == (request.status == RequestStatus.CLOSED)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 18, 15, 0, tzinfo=CITY_TIME_ZONE),  # a Wednesday afternoon
        datetime(2026, 11, 23, 4, 30, tzinfo=CITY_TIME_ZONE),  # a Monday before work
        datetime(2026, 11, 28, 21, 0, tzinfo=CITY_TIME_ZONE),  # a Saturday evening
    ],
)
def test_the_month_has_requests_in_every_state_whenever_it_is_loaded(
    db: Any, settings: Any, tmp_path: Path, now: datetime
) -> None:
    settings.MEDIA_ROOT = tmp_path
    requests_month(rng=random.Random(2026), now=now, staff=_staff())
    states = set(ServiceRequest.objects.values_list("status", flat=True))
    assert states == set(RequestStatus.values)


def test_every_staff_step_is_audited_with_its_actor_and_moment(
    requests: list[ServiceRequest],
) -> None:
    actions = {
        EntryKind.TRIAGED: "request.triaged",
        EntryKind.ASSIGNED: "request.assigned",
        EntryKind.STARTED: "request.started",
        EntryKind.ANSWER: "request.answered",
        EntryKind.NOTE: "request.noted",
        EntryKind.RESOLVED: "request.resolved",
        EntryKind.CLOSED: "request.closed",
        EntryKind.REJECTED: "request.rejected",
        EntryKind.RECEIVED: "request.created",  # filed by staff for a caller
    }
    audited = {
        (row.object_id, row.action, row.actor_id, row.at)
        for row in AuditEntry.objects.filter(object_type="services.servicerequest")
    }
    checked = 0
    for line in RequestEntry.objects.filter(actor__isnull=False, kind__in=list(actions)):
        assert (str(line.request_id), actions[line.kind], line.actor_id, line.at) in audited
        checked += 1
    assert checked > 500
    merged = RequestEntry.objects.filter(kind=EntryKind.MERGED, public=True)
    assert merged.exists()
    for line in merged:
        assert (str(line.request_id), "request.merged", line.actor_id, line.at) in audited


def test_staff_act_in_working_hours_and_the_right_people_handle_each_request(
    requests: list[ServiceRequest],
) -> None:
    calendar = working_calendar()
    staff = _staff()
    for line in RequestEntry.objects.filter(
        actor__isnull=False, kind__in=[EntryKind.TRIAGED, EntryKind.STARTED, EntryKind.RESOLVED]
    ).select_related("request__department", "request__ward"):
        local = line.at.astimezone(CITY_TIME_ZONE)
        assert calendar.is_working_day(local.date()), line.at
    started = RequestEntry.objects.filter(kind=EntryKind.STARTED, actor__isnull=False)
    by_department = started.filter(request__department__code=data.DEPARTMENT1)
    assert {line.actor_id for line in by_department} == {staff["department1"].pk}
    in_own_unit = started.filter(
        request__department__isnull=True,
        request__ward__code=data.OFFICIAL1_WARD,
        request__ward__valid_to__isnull=True,
    )
    assert in_own_unit.exists()
    assert {line.actor_id for line in in_own_unit} == {staff["official1"].pk}


def test_deadlines_are_the_working_calendars_and_the_late_ones_show(
    requests: list[ServiceRequest], month: tuple[RequestsSummary, datetime]
) -> None:
    _summary, now = month
    calendar = working_calendar()
    late = 0
    for request in requests:
        if request.timeline.filter(kind=EntryKind.DISPUTED).exists():
            continue  # a new deadline from the dispute (below)
        assert request.deadline_at == calendar.add_working_hours(
            request.created_at, request.category.deadline_hours
        )
        finished = request.resolved_at or request.closed_at or now
        warned = request.timeline.filter(kind=EntryKind.DEADLINE)
        escalated = request.timeline.filter(kind=EntryKind.ESCALATED)
        if request.resolved_at and request.resolved_at > request.deadline_at:
            late += 1
            assert warned.count() == 1 and escalated.count() == 1
            assert request.level == RequestLevel.SUPERVISING
        if finished < request.deadline_at - (request.deadline_at - request.created_at) * 0.2:
            assert not warned.exists()  # finished before the warning was due
        alerts = Alert.objects.filter(cause=f"request:{request.code}")
        assert alerts.count() == warned.count()
        for alert in alerts:
            assert alert.kind == AlertKind.DEADLINE
            assert (alert.status != AlertStatus.RESOLVED) == (request.status in OPEN_STATUSES)
    assert late > 10


def test_ratings_follow_resolutions_and_one_citizen_disputes(
    requests: list[ServiceRequest], month: tuple[RequestsSummary, datetime]
) -> None:
    _summary, now = month
    rated = [r for r in requests if r.rating is not None]
    assert len(rated) > 50
    for request in rated:
        assert 1 <= request.rating <= 5
        assert request.status in (RequestStatus.RESOLVED, RequestStatus.CLOSED)
        assert request.resolved_at is not None and request.rated_at > request.resolved_at
    assert {r.rating for r in rated} == {1, 2, 3, 4, 5}
    disputed = [r for r in requests if r.timeline.filter(kind=EntryKind.DISPUTED).exists()]
    assert len(disputed) == 1
    request = disputed[0]
    line = request.timeline.get(kind=EntryKind.DISPUTED)
    assert request.status == RequestStatus.REOPENED
    assert request.level == RequestLevel.SUPERVISING
    assert request.resolved_at is None and request.deadline_at > line.at
    assert now - line.at < timedelta(days=9)


def test_citizens_photos_are_stored_readable_and_show_on_their_tracking_page(
    requests: list[ServiceRequest], month: tuple[RequestsSummary, datetime]
) -> None:
    summary, _now = month
    photos = RequestPhoto.objects.select_related("request")
    assert photos.count() == summary.photos > 50
    assert photos.filter(kind="after").exists()
    photo = photos.filter(kind="report").first()
    assert photo is not None and photo.created_at == photo.request.created_at
    with photo.image.open("rb") as handle, Image.open(io.BytesIO(handle.read())) as image:
        assert image.format == "JPEG" and not image.getexif()
        assert (image.width, image.height) == (photo.width, photo.height)
    page = Client().get(f"/track/{photo.request.code}/")
    assert page.status_code == 200
    assert photo.thumbnail.name.rsplit("/", 1)[-1] in page.content.decode()


def test_june_2025_requests_moved_by_the_reform_say_so_and_closed_ones_stay(
    requests: list[ServiceRequest],
) -> None:
    june = [r for r in requests if r.created_at < REFORM_MOMENT]
    assert len(june) == 8
    moved = [r for r in june if r.timeline.filter(kind=EntryKind.MOVED).exists()]
    # Those filed in the reform's last days were still being worked on when it came.
    late_june = [r for r in june if r.created_at.astimezone(CITY_TIME_ZONE).day >= 20]
    assert moved == late_june and len(moved) == 6
    for request in june:
        line = request.timeline.filter(kind=EntryKind.MOVED).first()
        if line is None:  # finished before the reform: stays with the unit of its time
            assert request.ward.valid_to == REFORM_DATE
            assert request.status not in OPEN_STATUSES
            continue
        assert line.at == REFORM_MOMENT and line.public
        assert request.ward.valid_from == REFORM_DATE
        assert request.ward.boundary is not None
        old = line.data["from"]
        assert WardSuccession.objects.filter(
            predecessor__code=old, predecessor__valid_to=REFORM_DATE, successor=request.ward
        ).exists()
        assert line.text.startswith("Chuyển từ Phường") and request.ward.title in line.text
        page = Client().get(f"/track/{request.code}/")
        assert line.text in page.content.decode()
    trung_vuong = [r for r in moved if r.timeline.get(kind=EntryKind.MOVED).data["from"] == "05443"]
    assert trung_vuong and trung_vuong[0].ward.code == "05443"  # the code, now another unit
    assert (
        trung_vuong[0].timeline.get(kind=EntryKind.MOVED).text
        == "Chuyển từ Phường Trưng Vương sang Phường Phan Đình Phùng do sắp xếp đơn vị hành chính"
    )


def test_each_official_sees_the_month_of_their_units_only(
    requests: list[ServiceRequest],
) -> None:
    everything = {r.pk for r in requests}
    for username, code in (("official1", data.OFFICIAL1_WARD), ("official2", data.OFFICIAL2_WARD)):
        official = User.objects.get(username=username)
        seen = requests_visible_to(official).filter(pk__in=everything)
        assert seen.count() > 10
        for request in seen.select_related("ward"):
            in_force = request.ward.valid_to is None
            assert (
                request.ward.code == code
                if in_force
                else WardSuccession.objects.filter(
                    predecessor=request.ward, successor__code=code
                ).exists()
            )
        assert request_kpis(official)["resolved_30d"] > 0


def test_tracking_codes_follow_the_counter_in_filing_order(
    requests: list[ServiceRequest],
) -> None:
    by_year: dict[int, list[int]] = {}
    for request in requests:
        year = request.created_at.astimezone(CITY_TIME_ZONE).year
        prefix, code_year, number = request.code.split("-")
        assert prefix == "PA" and int(code_year) == year
        by_year.setdefault(year, []).append(int(number))
    for year, numbers in by_year.items():
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert TrackingCounter.objects.get(year=year).last == numbers[-1]
