"""Incidents: opened by hand or from an alert, worked through their life, scoped, audited, live."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cameras.models import Device
from ioc import realtime
from ioc.choices import AlertStatus, IncidentStatus, Severity
from ioc.models import AuditEntry, Incident, IncidentType, Ward
from ioc.selectors import incident_link_suggestions
from ioc.services import (
    incident_assign,
    incident_checklist_set,
    incident_create,
    incident_create_from_alert,
    incident_link_alert,
    incident_note_add,
    incident_severity_set,
    incident_status_set,
    incident_unlink_alert,
)
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import GroupListener, example_device, example_user, open_at, raise_alert


def test_opening_an_incident_finds_its_ward_copies_the_checklist_and_records_it(
    demo_city: Any,
) -> None:
    incident = open_at(OWN, actor="official1", description="Nước dâng nhanh")
    kind = IncidentType.objects.get(code="flooding")
    assert incident.ward.code == OWN
    assert incident.severity == kind.default_severity
    assert [item.text for item in incident.checklist.all()] == [
        step.text for step in kind.steps.all()
    ]
    assert incident.checklist.count() >= 3
    assert [entry.kind for entry in incident.timeline.all()] == ["created"]
    assert incident.reference.startswith("SC-") and incident.reference.endswith(
        f"{incident.pk:06d}"
    )
    entry = AuditEntry.objects.get(action="incident.created", object_id=str(incident.pk))
    assert (entry.actor_label, entry.ward_code) == ("official1", OWN)


def test_a_place_outside_the_city_is_refused_with_a_clear_message(demo_city: Any) -> None:
    with pytest.raises(ValidationError) as error:
        incident_create(
            actor=example_user("operator"),
            incident_type=IncidentType.objects.get(code="other"),
            title="Ngoài thành phố",
            latitude=Decimal("10.762622"),
            longitude=Decimal("106.660172"),
        )
    assert "location" in error.value.message_dict
    assert Incident.objects.count() == 0


def test_a_ward_official_cannot_open_an_incident_in_another_ward(demo_city: Any) -> None:
    with pytest.raises(PermissionDenied):
        open_at(OTHER, actor="official1")
    with pytest.raises(PermissionDenied):
        open_at(OWN, actor="department1")
    assert Incident.objects.count() == 0


def test_opening_from_an_alert_links_it_picks_the_type_and_acknowledges_it(
    demo_city: Any,
) -> None:
    alert = raise_alert(example_device(OWN), "detection:fire", severity=Severity.CRITICAL)
    incident = incident_create_from_alert(actor=example_user("official1"), alert=alert)
    alert.refresh_from_db()
    assert incident.incident_type.code == "fire"
    assert (incident.title, incident.severity, incident.ward.code) == (
        alert.title,
        Severity.CRITICAL,
        OWN,
    )
    assert alert.incident_id == incident.pk
    assert alert.status == AlertStatus.ACKNOWLEDGED
    with pytest.raises(ValidationError):
        incident_create_from_alert(actor=example_user("operator"), alert=alert)
    assert Incident.objects.count() == 1


def test_an_alert_with_an_unknown_cause_opens_an_incident_of_the_catch_all_type(
    demo_city: Any,
) -> None:
    alert = raise_alert(example_device(OWN), "detection:unicorn", severity=Severity.CRITICAL)
    assert incident_create_from_alert(
        actor=example_user("operator"), alert=alert
    ).incident_type.code == ("other")


def test_the_life_of_an_incident_needs_notes_where_it_matters(demo_city: Any) -> None:
    incident = open_at(OWN)
    operator = example_user("operator")
    incident = incident_status_set(actor=operator, incident=incident, status="in_progress")
    with pytest.raises(ValidationError) as error:
        incident_status_set(actor=operator, incident=incident, status="resolved")
    assert "note" in error.value.message_dict
    incident = incident_status_set(
        actor=operator, incident=incident, status="resolved", note="Đã bơm hết nước"
    )
    assert incident.resolved_at is not None
    with pytest.raises(ValidationError):  # reopening says why
        incident_status_set(actor=operator, incident=incident, status="in_progress")
    incident = incident_status_set(
        actor=operator, incident=incident, status="in_progress", note="Mưa lại"
    )
    assert incident.resolved_at is None
    incident = incident_status_set(
        actor=operator, incident=incident, status="resolved", note="Xong"
    )
    with pytest.raises(ValidationError) as error:  # steps are not ticked: say why
        incident_status_set(actor=operator, incident=incident, status="closed")
    assert "note" in error.value.message_dict
    incident = incident_status_set(
        actor=operator, incident=incident, status="closed", note="Các bước đã làm ngoài hệ thống"
    )
    assert incident.closed_at is not None
    with pytest.raises(ValidationError):  # closed is final
        incident_status_set(actor=operator, incident=incident, status="in_progress", note="x")
    statuses = [
        (entry.data["from"], entry.data["to"]) for entry in incident.timeline.filter(kind="status")
    ]
    assert statuses == [
        ("open", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]
    assert (
        AuditEntry.objects.filter(action="incident.status", object_id=str(incident.pk)).count() == 5
    )


def test_closing_with_every_step_done_needs_no_note(demo_city: Any) -> None:
    incident = open_at(OWN)
    operator = example_user("operator")
    for item in incident.checklist.all():
        incident_checklist_set(actor=operator, incident=incident, item_id=item.pk, done=True)
    incident = incident_status_set(actor=operator, incident=incident, status="resolved", note="Ok")
    incident = incident_status_set(actor=operator, incident=incident, status="closed")
    assert incident.status == IncidentStatus.CLOSED
    item = incident.checklist.first()
    assert item is not None and item.done_by == operator
    with pytest.raises(ValidationError):
        incident_checklist_set(actor=operator, incident=incident, item_id=item.pk, done=False)


def test_resolving_an_incident_resolves_its_open_alerts(demo_city: Any) -> None:
    alert = raise_alert(example_device(OWN), severity=Severity.CRITICAL)
    incident = incident_create_from_alert(actor=example_user("operator"), alert=alert)
    incident_status_set(
        actor=example_user("operator"), incident=incident, status="resolved", note="Đã dập"
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert incident.reference in alert.note


def test_assigning_only_to_someone_who_handles_the_ward(demo_city: Any) -> None:
    incident = open_at(OWN)
    operator = example_user("operator")
    incident = incident_assign(
        actor=operator, incident=incident, assignee=example_user("official1")
    )
    assert incident.assignee == example_user("official1")
    for outsider in ("official2", "department1"):
        with pytest.raises(ValidationError):
            incident_assign(actor=operator, incident=incident, assignee=example_user(outsider))
    assert incident.timeline.filter(kind="assigned").count() == 1


def test_notes_severity_and_checklist_go_into_the_timeline(demo_city: Any) -> None:
    incident = open_at(OWN)
    official = example_user("official1")
    with pytest.raises(ValidationError):
        incident_note_add(actor=official, incident=incident, text="   ")
    incident_note_add(actor=official, incident=incident, text="Đã liên hệ tổ dân phố 5 🚒")
    incident_severity_set(actor=official, incident=incident, severity="critical", note="Lan rộng")
    item = incident.checklist.first()
    assert item is not None
    incident_checklist_set(actor=official, incident=incident, item_id=item.pk, done=True)
    incident_checklist_set(actor=official, incident=incident, item_id=item.pk, done=True)  # no-op
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds == ["created", "note", "severity", "checklist"]
    assert incident.timeline.get(kind="note").text == "Đã liên hệ tổ dân phố 5 🚒"


def test_a_ward_official_cannot_work_another_wards_incident(demo_city: Any) -> None:
    incident = open_at(OTHER)
    with pytest.raises(PermissionDenied):
        incident_note_add(actor=example_user("official1"), incident=incident, text="x")
    with pytest.raises(PermissionDenied):
        incident_status_set(
            actor=example_user("department1"), incident=incident, status="in_progress"
        )
    assert incident.timeline.count() == 1


def test_nearby_open_alerts_are_suggested_and_can_be_linked_and_unlinked(demo_city: Any) -> None:
    incident = open_at(OWN)
    near = raise_alert(example_device(OWN), "detection:flooding", severity=Severity.CRITICAL)
    far_device = Device.objects.exclude(ward__code=OWN).order_by("code").last()
    assert far_device is not None
    far = raise_alert(far_device, "detection:flooding", severity=Severity.CRITICAL)
    operator = example_user("operator")
    suggested = [alert.pk for alert, _distance in incident_link_suggestions(operator, incident)]
    assert near.pk in suggested and far.pk not in suggested
    incident_link_alert(actor=operator, incident=incident, alert=near)
    near.refresh_from_db()
    assert near.incident_id == incident.pk
    assert near.pk not in [a.pk for a, _d in incident_link_suggestions(operator, incident)]
    other = open_at(OWN, title="Khác")
    with pytest.raises(ValidationError):
        incident_link_alert(actor=operator, incident=other, alert=near)
    incident_unlink_alert(actor=operator, incident=incident, alert=near)
    near.refresh_from_db()
    assert near.incident_id is None
    assert list(incident.timeline.values_list("kind", flat=True)) == [
        "created",
        "linked",
        "unlinked",
    ]


def test_a_ward_official_cannot_link_another_wards_alert(demo_city: Any) -> None:
    incident = open_at(OWN, actor="official1")
    foreign = raise_alert(example_device(OTHER), severity=Severity.CRITICAL)
    with pytest.raises(ValidationError):
        incident_link_alert(actor=example_user("official1"), incident=incident, alert=foreign)
    foreign.refresh_from_db()
    assert foreign.incident_id is None


def test_changes_are_published_to_the_city_and_the_incident_ward_only(
    demo_city: Any, listener: GroupListener, django_capture_on_commit_callbacks: Any
) -> None:
    city = listener.join(realtime.CITY_GROUP)
    own = listener.join(realtime.ward_group(OWN))
    other = listener.join(realtime.ward_group(OTHER))
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_at(OWN)
    for channel in (city, own):
        event = listener.receive(channel)["event"]
        assert (event["type"], event["ward"]) == ("incident.updated", OWN)
        assert event["data"]["id"] == incident.pk
        assert event["data"]["status"] == "open"
    listener.assert_silent(other)
    with django_capture_on_commit_callbacks(execute=True):
        incident_note_add(actor=example_user("operator"), incident=incident, text="Cập nhật")
    assert listener.receive(own)["event"]["type"] == "incident.updated"
    listener.assert_silent(other)


def test_an_incident_belongs_to_the_ward_of_its_place_whoever_opens_it(demo_city: Any) -> None:
    for code in (OWN, OTHER):
        ward = Ward.objects.current().get(code=code)
        incident = incident_create(
            actor=example_user("operator"),  # city-wide: the place alone decides the ward
            incident_type=IncidentType.objects.get(code="other"),
            title="Tại trung tâm phường",
            latitude=ward.centroid_lat,
            longitude=ward.centroid_lon,
        )
        assert incident.ward == ward
