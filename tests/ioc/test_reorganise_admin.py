"""Reorganising units from the admin, for those who prefer a screen: upload the plan and the
mapping, read the dry run, then apply or schedule it (or cancel); every step audited, and a
bad upload refused with every problem listed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from cameras.models import Device
from ioc.choices import ReorganisationState
from ioc.models import AuditEntry, Reorganisation, Ward
from tests.support import OWN_WARD as OWN
from tests.support import THIRD_WARD as THIRD
from tests.support import example_user
from tests.support.reorganisation import MERGED_NAME, csv_of, merger, unit

pytestmark = pytest.mark.usefixtures("fresh_ward_index")  # wards change in rolled-back transactions


def upload(client: Client, plan: Any, mapping: str, effective: Any) -> Any:
    """POST the upload form as the browser sends it."""
    return client.post(
        "/admin/ioc/reorganisation/upload/",
        {
            "plan": SimpleUploadedFile("plan.geojson", json.dumps(plan).encode()),
            "mapping": SimpleUploadedFile("mapping.csv", mapping.encode()),
            "effective": str(effective),
        },
    )


def test_the_admin_checks_an_upload_then_applies_it(login: Any, demo_city: Any) -> None:
    admin = login("admin")
    devices = list(Device.objects.filter(ward__in=[unit(OWN), unit(THIRD)]))
    listing = admin.get("/admin/ioc/reorganisation/").content.decode()
    assert "/admin/ioc/reorganisation/upload/" in listing

    response = upload(admin, *merger(), timezone.localdate())

    draft = Reorganisation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/ioc/reorganisation/{draft.pk}/change/"
    assert draft.state == ReorganisationState.DRAFT
    assert unit(OWN).name != MERGED_NAME  # checked, nothing changed yet
    assert AuditEntry.objects.get(action="reorganisation.checked").actor_label == "admin"
    report = admin.get(response["Location"]).content.decode()
    assert 'data-testid="reorganisation-confirm"' in report
    assert MERGED_NAME in report and THIRD in report
    assert devices and all(f"<li>{device.code} " in report for device in devices)

    applied = admin.post(f"/admin/ioc/reorganisation/{draft.pk}/confirm/")

    assert applied.status_code == 302
    draft.refresh_from_db()
    assert draft.state == ReorganisationState.APPLIED
    assert unit(OWN).name == MERGED_NAME
    assert {device.ward_id for device in Device.objects.filter(pk__in=[d.pk for d in devices])} == {
        unit(OWN).pk
    }
    entry = AuditEntry.objects.get(action="reorganisation.applied")
    assert (entry.actor_label, entry.before) == ("admin", {"state": "draft"})
    report = admin.get(applied["Location"]).content.decode()
    assert 'data-testid="reorganisation-confirm"' not in report


def test_a_later_day_is_scheduled_and_may_be_cancelled(login: Any, demo_city: Any) -> None:
    admin = login("admin")
    day = timezone.localdate() + timedelta(days=10)
    upload(admin, *merger(), day)
    draft = Reorganisation.objects.get()
    assert (
        f"{day:%d/%m/%Y}"
        in admin.get(f"/admin/ioc/reorganisation/{draft.pk}/change/").content.decode()
    )

    admin.post(f"/admin/ioc/reorganisation/{draft.pk}/confirm/")
    draft.refresh_from_db()
    assert draft.state == ReorganisationState.SCHEDULED
    assert unit(OWN).name != MERGED_NAME

    admin.post(f"/admin/ioc/reorganisation/{draft.pk}/cancel/")
    draft.refresh_from_db()
    assert draft.state == ReorganisationState.CANCELLED
    cancelled = AuditEntry.objects.get(action="reorganisation.cancelled")
    assert cancelled.before == {"state": "scheduled"}


def test_a_bad_upload_shows_every_problem_and_stores_nothing(login: Any, demo_city: Any) -> None:
    admin = login("admin")
    plan, _mapping = merger()

    response = upload(
        admin, plan, csv_of((OWN, OWN, "part"), ("00000", OWN, "whole")), "2026-01-01x"
    )
    assert response.status_code == 200
    assert Reorganisation.objects.count() == 0  # the date did not even parse
    response = upload(
        admin, plan, csv_of((OWN, OWN, "part"), ("00000", OWN, "whole")), timezone.localdate()
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="reorganisation-problems"' in page
    assert "00000" in page and THIRD in page
    assert Reorganisation.objects.count() == 0
    assert not AuditEntry.objects.filter(action__startswith="reorganisation.").exists()


def test_only_those_who_may_add_reorganisations_upload_or_confirm(
    login: Any, demo_city: Any
) -> None:
    upload(login("admin"), *merger(), timezone.localdate())
    draft = Reorganisation.objects.get()
    official = example_user("official1")
    official.is_staff = True
    official.save(update_fields=["is_staff"])
    client = login("official1")

    assert upload(client, *merger(), timezone.localdate()).status_code in {302, 403}
    assert client.post(f"/admin/ioc/reorganisation/{draft.pk}/confirm/").status_code in {302, 403}
    draft.refresh_from_db()
    assert draft.state == ReorganisationState.DRAFT
    assert Reorganisation.objects.count() == 1
    assert Ward.objects.current().get(code=OWN).name != MERGED_NAME
