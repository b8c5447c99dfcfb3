"""Reorganising units (issue 14, items 3, 4 and 9): ``manage.py reorganise`` and the
services behind it. A dry run changes nothing and says what would move where; applied, two
of today's units merge into one that reuses one of their codes (as the 2025 reform did),
and what is open follows: devices and gateways, open requests (deadline kept, a line on
their public page), incidents and alerts, the officials' scope; closed cases stay. A split
flags its officials; a second run changes nothing; a later day waits for the beat; a bad
plan is refused whole, with every problem listed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import shapely
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone, translation
from shapely.geometry import box

from cameras.models import Device, Gateway
from ioc import geo
from ioc.choices import AlertKind, AlertStatus, IncidentStatus, ReorganisationState, Severity
from ioc.models import (
    Alert,
    AuditEntry,
    Incident,
    IncidentEntry,
    Reorganisation,
    ScopeReview,
    User,
    Ward,
    WardSuccession,
)
from ioc.services import alert_raise, incident_status_set
from ioc.services.reorganisation import moved_text
from ioc.tasks import reorganisations_due_task
from services.choices import EntryKind, RequestStatus
from services.models import ServiceRequest
from services.services import request_reject
from services.services.common import deadline_cause
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import THIRD_WARD as THIRD
from tests.support import example_user, file_request, open_at, raise_alert
from tests.support.reorganisation import (
    MERGED_NAME,
    SPLIT_CODE,
    area,
    csv_of,
    feature,
    halves,
    merger,
    plan_of,
    reorganise,
    split,
    unit,
)

pytestmark = pytest.mark.usefixtures("fresh_ward_index")  # wards change in rolled-back transactions

NEW_NAME = MERGED_NAME


def state() -> dict[str, Any]:
    """What a reorganisation would change, to compare before and after."""
    return {
        "wards": sorted(Ward.objects.values_list("pk", "code", "valid_from", "valid_to")),
        "successions": WardSuccession.objects.count(),
        "devices": sorted(Device.objects.values_list("pk", "ward_id")),
        "gateways": sorted(Gateway.objects.values_list("pk", "ward_id")),
        "requests": sorted(ServiceRequest.objects.values_list("pk", "ward_id", "updated_at")),
        "incidents": sorted(Incident.objects.values_list("pk", "ward_id")),
        "alerts": sorted(Alert.objects.values_list("pk", "ward_id")),
        "officials": sorted(
            (user.pk, sorted(user.wards.values_list("pk", flat=True)))
            for user in User.objects.all()
        ),
        "audit": AuditEntry.objects.count(),
        "reorganisations": Reorganisation.objects.count(),
        "reviews": ScopeReview.objects.count(),
    }


@pytest.fixture
def open_work(demo_city: Any) -> dict[str, Any]:
    """In the third unit: an open request with its deadline alert, a rejected one, an open
    and a resolved incident, an open alert; official1 is the own unit's official."""
    operator = example_user("operator")
    request = file_request(THIRD)
    deadline_alert, _new = alert_raise(
        ward=request.ward,
        device=None,
        kind=AlertKind.DEADLINE,
        cause=deadline_cause(request.code),
        severity=Severity.WARNING,
        title=f"{request.code} sắp hết hạn",
    )
    rejected = request_reject(actor=operator, request=file_request(THIRD), reason="Trùng")
    incident = open_at(THIRD)
    resolved = open_at(THIRD, title="Đã xong")
    incident_status_set(
        actor=operator, incident=resolved, status=IncidentStatus.RESOLVED, note="Đã thông cống"
    )
    return {
        "request": request,
        "deadline_alert": deadline_alert,
        "rejected": rejected,
        "incident": incident,
        "resolved": resolved,
        "alert": raise_alert(THIRD),
    }


# --- The dry run -------------------------------------------------------------------------------


def test_a_dry_run_lists_what_would_move_and_changes_nothing(
    open_work: dict[str, Any], tmp_path: Path
) -> None:
    before = state()
    output = reorganise(tmp_path, *merger(), dry_run=True)

    assert state() == before
    assert output.startswith("Dry run, nothing changed.")
    new = f"{OWN} Phường {NEW_NAME}"
    assert f"+ {OWN} Phường {NEW_NAME} <- {OWN} " in output
    for device in Device.objects.filter(ward=unit(THIRD)):
        assert f"      {device.code} {device.name} -> {new}\n" in output
    for gateway in Gateway.objects.filter(ward=unit(THIRD)):
        assert f"      {gateway.code} {gateway.name} -> {new}\n" in output
    assert f"      {open_work['request'].code} -> {new}\n" in output
    assert open_work["rejected"].code not in output  # closed: stays, not listed
    assert f"{open_work['incident'].reference} {open_work['incident'].title} -> {new}" in output
    assert open_work["resolved"].reference not in output
    assert f"      {open_work['alert'].title} -> {new}\n" in output
    assert f"      {open_work['deadline_alert'].title} -> {new}\n" in output
    assert f"      official1 -> {new}\n" in output
    assert "Needs a person: 0" in output


# --- Applied -------------------------------------------------------------------------------------


def test_applying_a_merger_moves_what_is_open_and_leaves_what_is_closed(
    open_work: dict[str, Any], tmp_path: Path
) -> None:
    today = timezone.localdate()
    own, third = unit(OWN), unit(THIRD)
    request = open_work["request"]
    third_devices = set(Device.objects.filter(ward=third).values_list("pk", flat=True))
    third_gateways = set(Gateway.objects.filter(ward=third).values_list("pk", flat=True))
    assert third_devices

    output = reorganise(tmp_path, *merger())

    assert output.startswith("Applied (reorganisation ")
    new = unit(OWN)
    own.refresh_from_db(), third.refresh_from_db()
    assert (new.name, new.valid_from, new.valid_to) == (NEW_NAME, today, None)
    assert new.pk not in {own.pk, third.pk}
    assert (own.valid_to, third.valid_to) == (today, today)
    assert set(new.succession_from.values_list("predecessor_id", "transfer", "effective")) == {
        (own.pk, "whole", today),
        (third.pk, "whole", today),
    }
    assert not Ward.objects.current().filter(code=THIRD).exists()
    # Devices and gateways by their place; what was the own unit's, too.
    assert set(Device.objects.filter(pk__in=third_devices).values_list("ward", flat=True)) == {
        new.pk
    }
    assert set(Gateway.objects.filter(pk__in=third_gateways).values_list("ward", flat=True)) == {
        new.pk
    }
    assert not Device.objects.filter(ward__in=[own, third]).exists()
    # The open request: its new unit, the same deadline, a line its citizen reads.
    moved = ServiceRequest.objects.get(pk=request.pk)
    assert (moved.ward_id, moved.deadline_at) == (new.pk, request.deadline_at)
    entry = moved.timeline.get(kind=EntryKind.MOVED)
    assert entry.public and entry.text == moved_text(third, new)
    page = Client().get(f"/track/{request.code}/").content.decode()
    assert moved_text(third, new) in page and new.title in page
    # Closed cases stay with the unit of their time.
    rejected = ServiceRequest.objects.get(pk=open_work["rejected"].pk)
    assert (rejected.status, rejected.ward_id) == (RequestStatus.REJECTED, third.pk)
    assert Incident.objects.get(pk=open_work["resolved"].pk).ward_id == third.pk
    # Open incidents and alerts follow.
    incident = Incident.objects.get(pk=open_work["incident"].pk)
    assert incident.ward_id == new.pk
    assert IncidentEntry.objects.get(incident=incident, kind="moved").text == moved_text(third, new)
    assert Alert.objects.get(pk=open_work["alert"].pk).ward_id == new.pk
    assert Alert.objects.get(pk=open_work["deadline_alert"].pk).ward_id == new.pk
    assert (
        not Alert.objects.filter(ward__in=[own, third])
        .exclude(status=AlertStatus.RESOLVED)
        .exists()
    )
    # The official of the own unit now has the new unit, and sees its history.
    official = example_user("official1")
    assert list(official.wards.all()) == [new]
    client = Client()
    client.force_login(official)
    assert client.get(f"/ops/requests/{request.code}/").status_code == 200
    assert client.get(f"/ops/requests/{open_work['rejected'].code}/").status_code == 200
    assert not ScopeReview.objects.exists()


def test_every_change_is_audited_with_before_and_after(
    open_work: dict[str, Any], tmp_path: Path
) -> None:
    own, third = unit(OWN), unit(THIRD)
    device = Device.objects.filter(ward=third).order_by("code").first()
    assert device is not None

    reorganise(tmp_path, *merger())

    new = unit(OWN)
    reorganisation = Reorganisation.objects.get()
    assert reorganisation.state == ReorganisationState.APPLIED
    applied = AuditEntry.objects.get(action="reorganisation.applied")
    assert (applied.before, applied.after["state"]) == ({"state": "draft"}, "applied")
    retired = AuditEntry.objects.get(action="ward.retired", object_id=str(third.pk))
    today = str(timezone.localdate())
    assert (retired.before["valid_to"], retired.after["valid_to"]) == (None, today)
    assert AuditEntry.objects.filter(action="ward.retired", object_id=str(own.pk)).exists()
    created = AuditEntry.objects.get(action="ward.created", object_id=str(new.pk))
    assert created.before is None and created.after["name"] == NEW_NAME
    moved = AuditEntry.objects.get(action="device.moved", object_id=str(device.pk))
    assert (moved.before["ward"], moved.after["ward"]) == (THIRD, OWN)
    assert moved.after["reorganisation"] == reorganisation.pk
    request = open_work["request"]
    assert AuditEntry.objects.get(action="servicerequest.moved", object_id=str(request.pk))
    scope = AuditEntry.objects.get(action="user.wards_reorganised")
    assert scope.before == {"wards": [f"{OWN} {own.name}"]}
    assert scope.after == {"wards": [f"{OWN} {NEW_NAME}"], "to_review": []}


def test_the_reused_code_can_be_either_units(open_work: dict[str, Any], tmp_path: Path) -> None:
    own_devices = set(Device.objects.filter(ward=unit(OWN)).values_list("pk", flat=True))

    reorganise(tmp_path, *merger(keep=THIRD))

    new = unit(THIRD)
    assert not Ward.objects.current().filter(code=OWN).exists()
    assert set(Device.objects.filter(pk__in=own_devices).values_list("ward", flat=True)) == {new.pk}
    assert list(example_user("official1").wards.all()) == [new]


def test_running_it_twice_changes_nothing_the_second_time(
    open_work: dict[str, Any], tmp_path: Path
) -> None:
    files = merger()
    reorganise(tmp_path, *files)
    after_first = state()

    output = reorganise(tmp_path, *files)

    assert output.startswith("Already applied (reorganisation ")
    assert "nothing to change" in output
    assert state() == after_first


def test_a_second_run_moves_only_what_was_left_in_the_old_units_since(
    demo_city: Any, tmp_path: Path
) -> None:
    files = merger()
    third = unit(THIRD)
    device = Device.objects.filter(ward=third).order_by("code").first()
    assert device is not None
    reorganise(tmp_path, *files)
    first = Reorganisation.objects.get().report
    Device.objects.filter(pk=device.pk).update(ward=third)  # put back by mistake

    output = reorganise(tmp_path, *files)

    assert output.startswith("Already applied (reorganisation ")
    assert output.endswith("moved what was left in its old units since: 1 devices.\n")
    assert Device.objects.get(pk=device.pk).ward == unit(OWN)
    report = Reorganisation.objects.get().report
    assert report["units"] == first["units"] and len(report["later"]) == 1
    assert report["later"][0]["counts"]["device"] == 1
    assert AuditEntry.objects.filter(action="reorganisation.applied_again").count() == 1
    assert AuditEntry.objects.filter(action="device.moved", object_id=str(device.pk)).count() == 2


def test_a_split_gives_its_official_every_part_flagged_for_review(
    demo_city: Any, tmp_path: Path, login: Any
) -> None:
    files = split()
    output = reorganise(tmp_path, *files, dry_run=True)
    needs_person = output[output.index("Needs a person: ") :]
    assert "  official official1 (" in needs_person
    assert "its unit is split: keep only the units this official works for" in needs_person

    reorganise(tmp_path, *files)

    west, east = unit(OWN), unit(SPLIT_CODE)
    official = example_user("official1")
    assert set(official.wards.all()) == {west, east}
    review = ScopeReview.objects.get(user=official)
    assert review.former.code == OWN and review.former.valid_to == timezone.localdate()
    assert set(review.units.all()) == {west, east}
    assert review.reviewed_at is None
    # Devices went to the half that holds them.
    for device in Device.objects.filter(ward__in=[west, east]):
        holder = (
            west
            if geo.boundary_shape(west.boundary).covers(
                shapely.Point(float(device.longitude), float(device.latitude))
            )
            else east
        )
        assert device.ward_id == holder.pk
    # The admin flags the account, and closes the review (audited).
    admin = login("admin")
    flagged = admin.get("/admin/ioc/user/", {"scope_to_review": "yes"}).content.decode()
    assert "official1" in flagged and "official2" not in flagged
    account = admin.get(f"/admin/ioc/user/{official.pk}/change/").content.decode()
    assert f"{OWN} {review.former.name}" in account and f"{SPLIT_CODE} Đông" in account
    response = admin.post(
        "/admin/ioc/scopereview/",
        {"action": "mark_reviewed", "_selected_action": [review.pk]},
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.reviewed_at is not None
    closed = AuditEntry.objects.get(action="scopereview.closed")
    assert closed.before == {"reviewed_at": None} and closed.actor_label == "admin"
    flagged = admin.get("/admin/ioc/user/", {"scope_to_review": "yes"}).content.decode()
    assert "official1" not in flagged


# --- A later day ---------------------------------------------------------------------------------


def test_a_later_day_is_scheduled_and_applied_by_the_beat_on_that_day(
    open_work: dict[str, Any], tmp_path: Path
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    before = state()

    output = reorganise(tmp_path, *merger(), day)

    assert output.startswith("Scheduled (reorganisation ")
    reorganisation = Reorganisation.objects.get()
    assert reorganisation.state == ReorganisationState.SCHEDULED
    assert {**state(), "audit": 0, "reorganisations": 0} == {
        **before,
        "audit": 0,
        "reorganisations": 0,
    }
    assert reorganisations_due_task(today=str(day - timedelta(days=1))) == []
    assert unit(OWN).valid_to is None

    with mock.patch("django.utils.timezone.localdate", return_value=day):
        assert reorganisations_due_task() == [reorganisation.pk]
        new = unit(OWN)
        assert new.name == NEW_NAME and new.valid_from == day
        assert not Ward.objects.current().filter(code=THIRD).exists()
        assert ServiceRequest.objects.get(pk=open_work["request"].pk).ward_id == new.pk
        assert reorganisations_due_task() == []  # applied once
    reorganisation.refresh_from_db()
    assert reorganisation.state == ReorganisationState.APPLIED
    assert AuditEntry.objects.get(action="reorganisation.applied").actor_label == "beat"
    # Until that day the old units were in force, and the code named the own unit.
    assert Ward.objects.current(day - timedelta(days=1)).get(code=OWN).name != NEW_NAME


def test_the_beat_runs_the_due_task_at_midnight_in_vietnam_and_catches_up_after() -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["reorganisations-due"]
    assert entry["task"] == "ioc.tasks.reorganisations_due_task"
    assert 0 in entry["schedule"].hour and 0 in entry["schedule"].minute  # 00:00
    assert entry["schedule"].hour == set(range(24))  # and again all day: a missed midnight
    assert entry["schedule"].minute == set(range(0, 60, 5))
    assert settings.CELERY_TIMEZONE == "Asia/Ho_Chi_Minh"


def test_a_scheduled_reorganisation_that_no_longer_fits_fails_and_says_why(
    demo_city: Any, tmp_path: Path
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    union = shapely.union_all([area(THIRD), area(OTHER)])
    reorganise(tmp_path, *merger(), day)
    # Meanwhile the third unit was merged elsewhere, from an earlier day.
    earlier = timezone.localdate() + timedelta(days=1)
    reorganise(
        tmp_path,
        plan_of(feature(OTHER, "Khác", union)),
        csv_of((THIRD, OTHER, "whole"), (OTHER, OTHER, "whole")),
        earlier,
    )
    with mock.patch("django.utils.timezone.localdate", return_value=day):
        assert reorganisations_due_task() == [
            r.pk for r in Reorganisation.objects.filter(effective=earlier)
        ]
    late = Reorganisation.objects.get(effective=day)
    assert late.state == ReorganisationState.FAILED
    assert any(THIRD in problem for problem in late.report["problems"])
    assert AuditEntry.objects.filter(action="reorganisation.failed").exists()


# --- Bad plans -----------------------------------------------------------------------------------


def overlapping() -> tuple[dict[str, Any], str]:
    union = shapely.union_all([area(OWN), area(THIRD)])
    plan = plan_of(feature(OWN, "Một", union), feature(SPLIT_CODE, "Hai", area(THIRD)))
    return plan, csv_of((OWN, OWN, "whole"), (THIRD, SPLIT_CODE, "whole"))


def uncovered() -> tuple[dict[str, Any], str]:
    return plan_of(feature(OWN, NEW_NAME, area(OWN))), csv_of(
        (OWN, OWN, "whole"), (THIRD, OWN, "whole")
    )


def code_twice() -> tuple[dict[str, Any], str]:
    plan, mapping = merger()
    plan["features"].append(feature(OWN, "Trùng", area(THIRD)))
    return plan, mapping


def unknown_old() -> tuple[dict[str, Any], str]:
    plan, _mapping = merger()
    return plan, csv_of((OWN, OWN, "whole"), (THIRD, OWN, "whole"), ("00000", OWN, "whole"))


def whole_into_two() -> tuple[dict[str, Any], str]:
    west, east = halves(OWN)
    plan = plan_of(feature(OWN, "Tây", west), feature(SPLIT_CODE, "Đông", east))
    return plan, csv_of((OWN, OWN, "whole"), (OWN, SPLIT_CODE, "whole"))


def part_into_one() -> tuple[dict[str, Any], str]:
    plan, _mapping = merger()
    return plan, csv_of((OWN, OWN, "part"), (THIRD, OWN, "whole"))


def no_predecessor() -> tuple[dict[str, Any], str]:
    plan, mapping = merger()
    plan["features"].append(feature(SPLIT_CODE, "Mồ Côi", geo.to_geojson(box(0, 0, 0.01, 0.01))))
    return plan, mapping


def not_in_plan() -> tuple[dict[str, Any], str]:
    plan, _mapping = merger()
    return plan, csv_of((OWN, OWN, "whole"), (THIRD, "77777", "whole"))


def overlaps_a_unit_that_stays() -> tuple[dict[str, Any], str]:
    union = shapely.union_all([area(OWN), area(OTHER)])
    return plan_of(feature(OWN, NEW_NAME, union)), csv_of((OWN, OWN, "whole"))


def takes_a_code_in_force() -> tuple[dict[str, Any], str]:
    return plan_of(feature(OTHER, NEW_NAME, area(OWN))), csv_of((OWN, OTHER, "whole"))


BAD_PLANS = {
    "overlapping": (overlapping, "The new units {OWN} and {SPLIT} overlap"),
    "uncovered": (uncovered, "100.0 % of {TITLE} ({THIRD}) lies in none of the units"),
    "code_twice": (code_twice, "The plan names code {OWN} twice"),
    "unknown_old": (unknown_old, "No unit has code 00000."),
    "whole_into_two": (whole_into_two, "{OWN} goes whole into more than one unit"),
    "part_into_one": (part_into_one, "{OWN} goes in part into {OWN} only"),
    "no_predecessor": (no_predecessor, "The new unit {SPLIT} (Mồ Côi) has no predecessor"),
    "not_in_plan": (not_in_plan, "the new unit 77777 is not in the plan"),
    "overlaps_staying": (overlaps_a_unit_that_stays, "({OTHER}), which stays in force"),
    "code_in_force": (takes_a_code_in_force, "would both be in force with code {OTHER}"),
}


@pytest.mark.parametrize("case", list(BAD_PLANS))
def test_a_bad_plan_is_refused_with_its_problem_and_changes_nothing(
    demo_city: Any, tmp_path: Path, case: str
) -> None:
    build, expected = BAD_PLANS[case]
    with translation.override("en"):
        third = unit(THIRD).title
    message = expected.format(OWN=OWN, THIRD=THIRD, OTHER=OTHER, SPLIT=SPLIT_CODE, TITLE=third)
    before = state()

    with pytest.raises(CommandError) as refused:
        reorganise(tmp_path, *build())

    assert str(refused.value).startswith("Nothing was changed. Fix these problems:")
    assert message in str(refused.value)
    assert state() == before


def test_every_problem_is_listed_at_once(demo_city: Any, tmp_path: Path) -> None:
    plan, _mapping = overlapping()
    plan["features"].append(feature(SPLIT_CODE, "Lặp", area(OWN)))
    mapping = csv_of((OWN, OWN, "part"), ("00000", "77777", "whole"))

    with pytest.raises(CommandError) as refused:
        reorganise(tmp_path, plan, mapping)

    problems = str(refused.value).splitlines()[1:]
    assert len(problems) >= 4
    text = str(refused.value)
    for part in (f"names code {SPLIT_CODE} twice", "No unit has code 00000", "77777", "only"):
        assert part in text


def test_an_already_retired_unit_cannot_be_reorganised_again(
    demo_city: Any, tmp_path: Path
) -> None:
    plan = plan_of(feature(SPLIT_CODE, "Sau", area(THIRD)))
    reorganise(tmp_path, *merger())
    before = state()
    later = timezone.localdate() + timedelta(days=1)

    with pytest.raises(CommandError) as refused:
        reorganise(tmp_path, plan, csv_of((THIRD, SPLIT_CODE, "whole")), later)

    assert f"No unit of code {THIRD} is in force on" in str(refused.value)
    assert state() == before


# --- Files that cannot be read -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "mapping", "effective", "message"),
    [
        (b"{not json", None, None, "The plan is not GeoJSON: line 1, column 2"),
        (b'{"type": "Feature"}', None, None, "The plan must be a GeoJSON FeatureCollection"),
        ("Ph\u01b0\u1eddng".encode("utf-16"), None, None, "The plan is not UTF-8 text (byte 0xff"),
        (None, b"old;new;transfer\n1;2;whole\n", None, "must name the columns old_code,new_code"),
        (None, "old_code,new_code,transfer\nA,B,all\n", None, "transfer is 'all'"),
        (None, "old_code,new_code,transfer\n,B,whole\n", None, "old_code and new_code"),
        (None, b"old_code,new_code,transfer\n\xe9,B,whole\n", None, "The mapping is not UTF-8"),
        (None, "", None, "The mapping is empty."),
        (None, None, "30/06/2025", "The effective day '30/06/2025' is not a date"),
    ],
    ids=[
        "plan-not-json",
        "plan-not-a-collection",
        "plan-not-utf8",
        "mapping-header",
        "mapping-transfer",
        "mapping-missing-code",
        "mapping-not-utf8",
        "mapping-empty",
        "bad-date",
    ],
)
def test_a_file_that_cannot_be_read_is_refused_saying_why(
    demo_city: Any,
    tmp_path: Path,
    plan: bytes | None,
    mapping: bytes | str | None,
    effective: str | None,
    message: str,
) -> None:
    good_plan, good_mapping = merger()
    before = state()

    with pytest.raises(CommandError) as refused:
        reorganise(
            tmp_path,
            plan if plan is not None else good_plan,
            mapping if mapping is not None else good_mapping,
            effective,
        )

    assert message in str(refused.value)
    assert state() == before


def test_a_mapping_may_carry_the_published_tables_columns_and_a_byte_order_mark(
    demo_city: Any, tmp_path: Path
) -> None:
    plan, _mapping = merger()
    mapping = (
        "\ufeffold_kind,old_name,old_code,new_kind,new_name,new_code,transfer,note\n"
        f"phuong,Một,{OWN},phuong,{NEW_NAME},{OWN},whole,code {OWN} is reused\n"
        f"phuong,Hai,{THIRD},phuong,{NEW_NAME},{OWN},whole,\n"
    )
    output = reorganise(tmp_path, plan, mapping, dry_run=True)
    assert f"+ {OWN} Phường {NEW_NAME}" in output
