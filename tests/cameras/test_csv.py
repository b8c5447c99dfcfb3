"""Device registry CSV: the export (scoped, filtered, BOM, no credentials) and the
all-or-nothing import (validated row by row, audited, re-imports its own export)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Max
from django.utils import timezone, translation

from cameras.choices import DeviceStatus
from cameras.models import Device, StatusChange
from cameras.services.csv_io import BOM, EXPORT_COLUMNS, devices_import_csv
from ioc.geo import invalidate_ward_index
from ioc.models import AuditEntry, User, Ward
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import OWN_WARD_NAME, example_user, placed_devices_in

HEADER = ",".join(EXPORT_COLUMNS)


@pytest.fixture(autouse=True)
def _english_messages(settings: Any) -> Iterator[None]:
    """These tests read the import's messages in their English source form (the
    Vietnamese ones are checked by tests/ioc/test_i18n.py)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def admin(demo_city: None) -> User:
    return example_user("admin")


def ward_centre(code: str) -> tuple[str, str]:
    """A point surely inside a ward (its stored label point), as text."""
    ward = Ward.objects.current().get(code=code)
    return str(ward.centroid_lat), str(ward.centroid_lon)


def export(client: Any, **params: Any) -> bytes:
    response = client.get("/ops/devices/export.csv", params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="devices-')
    return bytes(response.content)


def parse(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def registry_state() -> list[tuple[Any, ...]]:
    """Every registry field of every device, to show that nothing changed."""
    return list(
        Device.objects.order_by("code").values_list(
            "code",
            "name",
            "kind",
            "ward__code",
            "latitude",
            "longitude",
            "address",
            "vendor",
            "model_name",
            "installed_on",
            "status",
            "tags",
        )
    )


def new_device_line(code: str, in_ward: str = OWN, **cells: str) -> str:
    """One CSV line of a device at a point inside ``in_ward``; ``cells`` override columns."""
    lat, lon = ward_centre(in_ward)
    row = {
        "code": code,
        "name": "Camera ngã tư Đồng Quang",
        "kind": "camera",
        "ward": "",
        "latitude": lat,
        "longitude": lon,
        "address": "Số 1 đường Hoàng Văn Thụ",
        "vendor": "Hikvision",
        "model": "DS-2CD",
        "installed_on": "2025-03-01",
        "status": "online",
        "last_seen_at": "",
        "tags": "giao-thong;an-ninh",
    }
    row.update(cells)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([row[c] for c in EXPORT_COLUMNS])
    return buffer.getvalue()


def upload(client: Any, content: bytes, name: str = "devices.csv") -> Any:
    return client.post("/ops/devices/import/", {"file": SimpleUploadedFile(name, content)})


# --- Export -----------------------------------------------------------------------------------


def test_export_is_utf8_with_bom_and_the_documented_columns(login: Any, demo_city: None) -> None:
    content = export(login("operator"))
    assert content.startswith(BOM.encode("utf-8"))
    assert content.decode("utf-8-sig").splitlines()[0] == HEADER
    rows = parse(content)
    assert len(rows) == Device.objects.count()
    assert f"Camera {OWN_WARD_NAME} 01" in {row["name"] for row in rows}


def test_export_rows_carry_the_registry_fields(login: Any, demo_city: None) -> None:
    device = Device.objects.select_related("ward").get(code="SIG-003")
    device.tags = ["den-tin-hieu", "trung-tam"]
    device.installed_on = date(2024, 5, 17)
    device.save()
    row = next(r for r in parse(export(login("operator"))) if r["code"] == "SIG-003")
    assert row["name"] == device.name
    assert row["kind"] == "signal" and row["ward"] == OWN
    assert Decimal(row["latitude"]) == device.latitude
    assert Decimal(row["longitude"]) == device.longitude
    assert row["installed_on"] == "2024-05-17"
    assert row["tags"] == "den-tin-hieu;trung-tam"
    assert row["last_seen_at"].endswith("+07:00")


def test_export_is_scoped_to_the_officials_ward(login: Any, demo_city: None) -> None:
    codes = {row["code"] for row in parse(export(login("official1")))}
    assert codes == set(Device.objects.filter(ward__code=OWN).values_list("code", flat=True))


def test_export_follows_the_list_filters(login: Any, demo_city: None) -> None:
    rows = parse(export(login("operator"), kind="signal", ward=OTHER))
    assert [row["code"] for row in rows] == placed_devices_in(OTHER)


def test_export_defuses_spreadsheet_formulas_and_imports_them_back(login: Any, admin: User) -> None:
    Device.objects.filter(code="SIG-003").update(name='=HYPERLINK("http://x")')
    content = export(login("admin"), q="SIG-003")
    assert parse(content)[0]["name"] == '\'=HYPERLINK("http://x")'
    report = devices_import_csv(actor=admin, file_bytes=content)
    assert report.ok and report.unchanged == ["SIG-003"]
    assert Device.objects.get(code="SIG-003").name == '=HYPERLINK("http://x")'


@pytest.mark.parametrize(
    "name", ['\'=HYPERLINK("http://x")', "''+1", "'plain", "-cmd|' /C calc'!A0", "@SUM(A1)"]
)
def test_an_exported_name_re_imports_exactly_whatever_apostrophes_it_starts_with(
    login: Any, admin: User, name: str
) -> None:
    Device.objects.filter(code="SIG-003").update(name=name)
    content = export(login("admin"), q="SIG-003")
    assert not parse(content)[0]["name"].startswith(("=", "+", "-", "@"))
    report = devices_import_csv(actor=admin, file_bytes=content)
    assert report.ok and report.unchanged == ["SIG-003"]
    assert Device.objects.get(code="SIG-003").name == name


def test_every_exported_cell_is_guarded_not_only_those_a_screen_marks() -> None:
    from cameras.services.csv_io import csv_lines

    text = "".join(csv_lines(["=h"], [['=HYPERLINK("http://x")', "-10.5", "+1", "\tx", "7"]]))

    assert list(csv.reader(io.StringIO(text.removeprefix(BOM)))) == [
        ["'=h"],
        ['\'=HYPERLINK("http://x")', "-10.5", "'+1", "'\tx", "7"],
    ]


# --- Import: good files --------------------------------------------------------------------------


def test_import_creates_and_updates_devices_and_audits_each(admin: User) -> None:
    existing = Device.objects.get(code="SIG-003")
    lat, lon = str(existing.latitude), str(existing.longitude)
    content = (
        HEADER
        + "\r\n"
        + new_device_line("CAM-NEW-001")
        + new_device_line(
            "SIG-003",
            name="Đèn tín hiệu ngã năm",
            kind="signal",
            latitude=lat,
            longitude=lon,
            status="",
            tags="",
        )
    ).encode()
    before = AuditEntry.objects.count()

    report = devices_import_csv(actor=admin, file_bytes=content)

    assert report.ok, report.errors
    assert report.created == ["CAM-NEW-001"] and report.updated == ["SIG-003"]
    created = Device.objects.select_related("ward").get(code="CAM-NEW-001")
    assert created.ward.code == OWN  # derived from the point
    assert created.status == DeviceStatus.ONLINE and created.tags == ["giao-thong", "an-ninh"]
    assert created.installed_on == date(2025, 3, 1)
    updated = Device.objects.get(code="SIG-003")
    assert updated.name == "Đèn tín hiệu ngã năm"
    assert updated.status == existing.status  # a blank status keeps it
    entries = AuditEntry.objects.order_by("id")[before:]
    assert [(e.action, e.object_repr.split()[0], e.actor_label) for e in entries] == [
        ("device.created", "CAM-NEW-001", "admin"),
        ("device.updated", "SIG-003", "admin"),
    ]
    assert entries[1].before is not None and entries[1].after is not None
    assert entries[1].after["name"] == "Đèn tín hiệu ngã năm"
    assert entries[0].ward_code == OWN and entries[0].reason == "CSV import"


def test_import_page_shows_the_summary(login: Any, admin: User) -> None:
    content = (HEADER + "\r\n" + new_device_line("CAM-NEW-002")).encode("utf-8")
    response = upload(login("admin"), content)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="import-summary"' in html
    assert 'href="/ops/devices/CAM-NEW-002/"' in html


@pytest.mark.parametrize("bom", [True, False])
def test_import_accepts_utf8_with_or_without_bom(admin: User, bom: bool) -> None:
    text = HEADER + "\r\n" + new_device_line("CAM-NEW-003", name="Camera Phường Túc Duyên")
    content = (BOM if bom else "").encode() + text.encode("utf-8")
    report = devices_import_csv(actor=admin, file_bytes=content)
    assert report.ok, report.errors
    assert Device.objects.get(code="CAM-NEW-003").name == "Camera Phường Túc Duyên"


def test_import_reads_only_the_required_columns_when_others_are_absent(admin: User) -> None:
    lat, lon = ward_centre(OTHER)
    content = f"code,name,kind,latitude,longitude\nWL-NEW,Trạm đo mực nước,sensor,{lat},{lon}\n"
    report = devices_import_csv(actor=admin, file_bytes=content.encode())
    assert report.ok, report.errors
    device = Device.objects.select_related("ward").get(code="WL-NEW")
    assert device.ward.code == OTHER and device.status == DeviceStatus.OFFLINE


def test_import_accepts_excel_vietnamese_dates_decimal_commas_and_semicolons(
    admin: User,
) -> None:
    lat, lon = (value.replace(".", ",") for value in ward_centre(OWN))
    content = (
        "code;name;kind;latitude;longitude;installed_on\n"
        f"CAM-NEW-004;Camera chợ;camera;{lat};{lon};05/09/2025\n"
    )
    report = devices_import_csv(actor=admin, file_bytes=content.encode())
    assert report.ok, report.errors
    device = Device.objects.get(code="CAM-NEW-004")
    assert device.installed_on == date(2025, 9, 5)
    assert device.latitude == Decimal(ward_centre(OWN)[0])


def test_import_status_change_is_recorded_in_the_status_history(admin: User) -> None:
    device = Device.objects.get(code="SIG-003")
    Device.objects.filter(pk=device.pk).update(status=DeviceStatus.ONLINE)
    line = (
        f"code,name,kind,latitude,longitude,status\n"
        f"SIG-003,{device.name},signal,{device.latitude},{device.longitude},maintenance\n"
    )
    report = devices_import_csv(actor=admin, file_bytes=line.encode())
    assert report.ok and report.updated == ["SIG-003"]
    change = StatusChange.objects.filter(device=device).latest("at")
    assert (change.from_status, change.to_status) == ("online", "maintenance")
    assert "admin" in change.cause


def test_export_reimports_cleanly_and_changes_nothing(login: Any, admin: User) -> None:
    content = export(login("admin"))
    state = registry_state()
    audits = AuditEntry.objects.count()

    report = devices_import_csv(actor=admin, file_bytes=content)

    assert report.ok, report.errors[:5]
    assert report.created == [] and report.updated == []
    assert len(report.unchanged) == Device.objects.count()
    assert registry_state() == state
    assert AuditEntry.objects.count() == audits


def test_export_of_a_ward_recreates_its_devices_after_they_are_removed(
    login: Any, admin: User
) -> None:
    content = export(login("admin"), ward=OTHER)
    state = [row for row in registry_state() if row[3] == OTHER]
    Device.objects.filter(ward__code=OTHER).delete()

    report = devices_import_csv(actor=admin, file_bytes=content)

    assert report.ok, report.errors[:5]
    assert sorted(report.created) == [row[0] for row in state]
    assert [row for row in registry_state() if row[3] == OTHER] == state


# --- Import: bad files change nothing ------------------------------------------------------------


def test_bad_rows_are_all_reported_with_row_numbers_and_nothing_changes(
    login: Any, admin: User
) -> None:
    content = (
        HEADER
        + "\r\n"
        + new_device_line("CAM-OK-001")  # row 2: fine
        + new_device_line("CAM-BAD-003", kind="drone")  # row 3
        + new_device_line("CAM-BAD-004", latitude="21,5,9")  # row 4
        + new_device_line("CAM-BAD-005", latitude="10.762622", longitude="106.660172")  # row 5
        + new_device_line("CAM-BAD-006", in_ward=OWN, ward=OTHER)  # row 6
        + new_device_line("CAM-BAD-007", status="broken", installed_on="31/02/2025")  # row 7
        + new_device_line("", name="")  # row 8
        + new_device_line("CAM-OK-001")  # row 9: repeated code
        + new_device_line("SIG-003", kind="camera")  # row 10: kind change
        + new_device_line("CAM-BAD-011", name="x" * 201)  # row 11
    ).encode()
    client = login("admin")  # the login itself is audited
    state = registry_state()
    audits = AuditEntry.objects.count()

    response = upload(client, content)

    assert response.status_code == 400
    report = response.context["report"]
    rows = {(error.row, error.column) for error in report.errors}
    assert {
        (3, "kind"),
        (4, "latitude"),
        (5, "latitude"),
        (6, "ward"),
        (7, "status"),
        (7, "installed_on"),
        (8, "code"),
        (8, "name"),
        (9, "code"),
        (10, "kind"),
        (11, "name"),
    } <= rows
    assert not any(error.row == 2 for error in report.errors)
    assert registry_state() == state
    assert AuditEntry.objects.count() == audits
    html = response.content.decode()
    assert 'data-testid="import-errors"' in html
    assert 'data-error-row="5"' in html and "outside every current ward" in html


def test_point_outside_the_city_is_refused(admin: User) -> None:
    content = HEADER + "\r\n" + new_device_line("CAM-HCM", latitude="10.7626", longitude="106.66")
    report = devices_import_csv(actor=admin, file_bytes=content.encode())
    assert [(e.row, e.column) for e in report.errors] == [(2, "latitude")]
    assert "outside every current ward" in report.errors[0].message
    assert not Device.objects.filter(code="CAM-HCM").exists()


def test_point_in_a_retired_ward_is_refused(admin: User) -> None:
    content = HEADER + "\r\n" + new_device_line("CAM-OLD", in_ward=OTHER)
    other = Ward.objects.current().filter(code=OTHER)
    other_pk = other.get().pk
    other.update(valid_to=timezone.localdate())
    invalidate_ward_index()
    try:
        report = devices_import_csv(actor=admin, file_bytes=content.encode())
        assert not report.ok
    finally:
        Ward.objects.filter(pk=other_pk).update(valid_to=None)
        invalidate_ward_index()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER.encode() + "\nCAM-1,Đê Tên,camera\n".encode("cp1258"), "not UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5\x1b", "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        ("code,name\n".encode("utf-16"), "UTF-16"),
        (b"", "empty"),
        (b"code,name,kind,latitude,longitude\n", "no devices"),
        (b"code,name,kind,latitude\nA,B,camera,21.5\n", "missing columns: longitude"),
        (
            b"code,name,kind,latitude,longitude,colour\nA,B,camera,21.5,105.8,red\n",
            "unknown columns: colour",
        ),
        (b'code,name,kind,latitude,longitude\n"A,B,camera,21.5,105.8\n', "not a valid CSV"),
        (b"code,name\x00,kind\n", "not a CSV"),
    ],
)
def test_unreadable_files_get_a_clear_message_and_change_nothing(
    login: Any, admin: User, content: bytes, message: str
) -> None:
    state = registry_state()
    response = upload(login("admin"), content)
    assert response.status_code == 400
    report = response.context["report"]
    assert len(report.errors) == 1 and report.errors[0].row is None
    assert message in report.errors[0].message
    assert registry_state() == state


def test_a_row_with_the_wrong_number_of_cells_is_reported(admin: User) -> None:
    lat, lon = ward_centre(OWN)
    content = f"code,name,kind,latitude,longitude\nA,B,camera,{lat},{lon},extra\n"
    report = devices_import_csv(actor=admin, file_bytes=content.encode())
    assert [(e.row, e.column) for e in report.errors] == [(2, "")]


def test_import_form_lists_the_expected_columns(login: Any, admin: User) -> None:
    html = login("admin").get("/ops/devices/import/").content.decode()
    assert f'data-testid="header-row">{HEADER}<' in html
    assert 'enctype="multipart/form-data"' in html


def test_import_without_a_file_says_so(login: Any, admin: User) -> None:
    response = login("admin").post("/ops/devices/import/", {})
    assert response.status_code == 400
    assert response.context["report"].errors[0].row is None


@pytest.mark.parametrize("username", ["operator", "official1", "department1"])
def test_only_administrators_may_import(login: Any, demo_city: None, username: str) -> None:
    client = login(username)
    assert client.get("/ops/devices/import/").status_code == 403
    content = (HEADER + "\r\n" + new_device_line("CAM-NOPE")).encode()
    assert upload(client, content).status_code == 403
    assert not Device.objects.filter(code="CAM-NOPE").exists()


def test_import_link_is_shown_to_administrators_only(login: Any, demo_city: None) -> None:
    assert 'href="/ops/devices/import/"' in login("admin").get("/ops/devices/").content.decode()
    assert 'href="/ops/devices/import/"' not in (
        login("operator").get("/ops/devices/").content.decode()
    )


def test_import_keeps_existing_devices_live_state(admin: User) -> None:
    device = Device.objects.get(code="SIG-003")
    Device.objects.filter(pk=device.pk).update(latest={"phase": "P1"})
    last_seen = Device.objects.filter(pk=device.pk).aggregate(m=Max("last_seen_at"))["m"]
    line = (
        "code,name,kind,latitude,longitude,last_seen_at\n"
        f"SIG-003,Tên mới,signal,{device.latitude},{device.longitude},2020-01-01T00:00:00+07:00\n"
    )
    report = devices_import_csv(actor=admin, file_bytes=line.encode())
    assert report.ok and report.updated == ["SIG-003"]
    device.refresh_from_db()
    assert device.latest == {"phase": "P1"} and device.last_seen_at == last_seen
