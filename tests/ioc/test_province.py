"""An installation's province from the official list (issue 14, item 2): ioc.provinces (the
vietnam-provinces package read once), ioc.services.province_load and
``manage.py load_province``.

The demo loads its own province (Thái Nguyên); these tests load another, Cao Bằng, which
the test database does not have yet, and Quảng Ninh for its special zones.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from vietnam_provinces import ProvinceCode
from vietnam_provinces import Ward as PackageUnit

from ioc.choices import WardKind
from ioc.models import AuditEntry, Ward
from ioc.provinces import (
    REFORM_DATE,
    ProvinceUnknown,
    installation_name,
    official_province,
    official_units,
)
from ioc.services import ProvinceLoadError, province_load
from tests.support import PROVINCE

pytestmark = pytest.mark.usefixtures("demo_city")

CAO_BANG = "04"
QUANG_NINH = "22"
PREFIXES = {"phường": "Phường ", "xã": "Xã ", "đặc khu": "Đặc khu "}


def package_units(code: str) -> dict[str, tuple[str, str]]:
    """The package's own units of a province: 5-character code -> (name with its kind
    stripped, kind as the package says it)."""
    return {
        f"{int(unit.code):05d}": (
            unit.name.removeprefix(PREFIXES[unit.division_type.value]),
            unit.division_type.value,
        )
        for unit in PackageUnit.iter_by_province(ProvinceCode(int(code)))
    }


def state() -> dict[str, Any]:
    return {
        "wards": list(Ward.objects.order_by("code", "valid_from").values()),
        "audit": AuditEntry.objects.count(),
    }


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("load_province", *args, stdout=out)
    return out.getvalue()


# --- the official list ------------------------------------------------------------------------


def test_the_official_list_names_units_without_their_kind_and_codes_with_five_characters() -> None:
    units = official_units(CAO_BANG)
    kinds = {"phường": WardKind.PHUONG, "xã": WardKind.XA, "đặc khu": WardKind.DAC_KHU}

    assert {u.code: (u.name, u.kind) for u in units} == {
        code: (name, kinds[kind]) for code, (name, kind) in package_units(CAO_BANG).items()
    }
    assert all(len(u.code) == 5 and not u.name.startswith(("Phường", "Xã")) for u in units)
    assert [u.code for u in units] == sorted(u.code for u in units)


def test_provinces_are_named_as_written_officially() -> None:
    assert official_province("19").name == "Tỉnh Thái Nguyên"
    assert official_province("019").code == "19"
    assert official_province(1).name == "Thành phố Hà Nội"


@pytest.mark.parametrize("code", ["99", "00", "abc", "", "1.5"])
def test_an_unknown_province_is_refused(code: str) -> None:
    with pytest.raises(ProvinceUnknown):
        official_province(code)
    with pytest.raises(ProvinceUnknown):
        province_load(code=code)


# --- loading --------------------------------------------------------------------------------


def test_loading_a_province_creates_all_its_units_in_force_from_the_reform() -> None:
    before = Ward.objects.count()

    report = province_load(code=CAO_BANG, actor_label="load_province 04")

    listed = package_units(CAO_BANG)
    loaded = Ward.objects.filter(province_code=CAO_BANG)
    assert sorted(report.created) == sorted(listed) and len(listed) == 56
    assert (report.updated, report.unchanged, report.not_listed) == ({}, [], [])
    assert Ward.objects.count() == before + 56
    assert {w.code: w.name for w in loaded} == {code: name for code, (name, _k) in listed.items()}
    assert set(loaded.values_list("valid_from", "valid_to", "province_name", "parent_code")) == {
        (REFORM_DATE, None, "Tỉnh Cao Bằng", "")
    }
    assert not loaded.filter(boundary__isnull=False).exists()
    assert set(Ward.objects.current().filter(province_code=CAO_BANG)) == set(loaded)


def test_special_zones_are_loaded_as_such() -> None:
    province_load(code=QUANG_NINH)

    zones = Ward.objects.filter(province_code=QUANG_NINH, kind=WardKind.DAC_KHU)
    assert sorted(zones.values_list("name", flat=True)) == ["Cô Tô", "Vân Đồn"]
    assert zones.first().title == "Đặc khu Cô Tô"  # type: ignore[union-attr]


def test_every_unit_written_is_audited() -> None:
    report = province_load(code=CAO_BANG, actor_label="load_province 04")

    entries = AuditEntry.objects.filter(action="ward.created", actor_label="load_province 04")
    assert sorted(entries.values_list("ward_code", flat=True)) == sorted(report.created)
    entry = entries.first()
    assert entry is not None and entry.before is None
    assert entry.after["valid_from"] == "2025-07-01" and "boundary" not in entry.after


def test_loading_twice_changes_nothing() -> None:
    province_load(code=CAO_BANG)
    before = state()

    report = province_load(code=CAO_BANG)

    assert (report.created, report.updated) == ([], {})
    assert len(report.unchanged) == 56
    assert state() == before


def test_loading_the_demo_province_again_changes_nothing() -> None:
    before = state()

    report = province_load(code=PROVINCE[0])

    assert (report.created, report.updated, report.not_listed) == ([], {}, [])
    assert len(report.unchanged) == 92
    assert state() == before


def test_a_unit_in_force_with_a_listed_code_is_updated_not_duplicated() -> None:
    code, (name, _kind) = next(iter(package_units(CAO_BANG).items()))
    listed_kind = next(u.kind for u in official_units(CAO_BANG) if u.code == code)
    existing = Ward.objects.create(code=code, name="Tên Cũ", kind=WardKind.THI_TRAN)

    report = province_load(code=CAO_BANG, actor_label="load_province 04")

    assert report.updated[code] == ["name", "kind", "province_code", "province_name"]
    assert code not in report.created
    assert list(Ward.objects.filter(code=code).values_list("pk", "name", "kind")) == [
        (existing.pk, name, listed_kind)
    ]
    entry = AuditEntry.objects.get(action="ward.updated", ward_code=code)
    assert (entry.before["name"], entry.after["name"]) == ("Tên Cũ", name)


def test_a_former_unit_still_in_force_with_a_listed_code_is_refused_and_nothing_changes() -> None:
    code = next(iter(package_units(CAO_BANG)))
    Ward.objects.create(
        code=code, name="Cũ", kind=WardKind.XA, parent_code="040", parent_name="Huyện Cũ"
    )
    before = state()

    with pytest.raises(ProvinceLoadError) as raised:
        province_load(code=CAO_BANG)

    assert len(raised.value.problems) == 1
    assert f"ward {code}: 'Cũ' of district 040" in raised.value.problems[0]
    assert "reorganisation" in raised.value.problems[0]
    assert state() == before


def test_a_unit_the_list_does_not_name_is_reported_and_left_alone() -> None:
    stray = Ward.objects.create(
        code="99001", name="Không Có", kind=WardKind.XA, province_code=CAO_BANG
    )

    report = province_load(code=CAO_BANG)

    assert report.not_listed == ["99001"]
    stray.refresh_from_db()
    assert (stray.name, stray.valid_to) == ("Không Có", None)


def test_a_dry_run_reports_what_a_real_run_does_and_changes_nothing() -> None:
    before = state()

    dry = province_load(code=CAO_BANG, dry_run=True)
    assert state() == before
    real = province_load(code=CAO_BANG)

    assert (dry.created, dry.updated, dry.unchanged) == (real.created, real.updated, [])


# --- the command ----------------------------------------------------------------------------


def test_the_command_loads_the_province_of_the_setting_by_default(settings: Any) -> None:
    settings.IOC_PROVINCE = CAO_BANG

    output = run_command()

    assert output.splitlines()[0].startswith("04 Tỉnh Cao Bằng (vietnam-provinces ")
    assert output.splitlines()[0].endswith("created 56, updated 0, unchanged 0.")
    assert AuditEntry.objects.filter(actor_label="load_province 04").count() == 56


def test_the_command_dry_run_says_so(settings: Any) -> None:
    output = run_command(CAO_BANG, "--dry-run")

    assert "Dry run, nothing changed: would have created 56" in output
    assert not Ward.objects.filter(province_code=CAO_BANG).exists()


def test_the_command_names_the_provinces_when_the_code_is_unknown() -> None:
    with pytest.raises(CommandError) as raised:
        run_command("99")

    message = str(raised.value)
    assert message.startswith("No province has code 99 in the official list.")
    assert "19 Tỉnh Thái Nguyên" in message and "01 Thành phố Hà Nội" in message


def test_the_command_warns_of_units_the_list_does_not_name() -> None:
    Ward.objects.create(code="99001", name="Không Có", kind=WardKind.XA, province_code=CAO_BANG)

    output = run_command(CAO_BANG)

    assert "In force but not in the official list" in output and "99001" in output


# --- the installation's name ----------------------------------------------------------------


def test_pages_are_headed_by_the_installations_province(settings: Any, login: Any) -> None:
    settings.IOC_CITY_NAME = ""
    assert installation_name() == "Tỉnh Thái Nguyên"
    html = login("operator").get("/ops/").content.decode()
    assert "<small>Tỉnh Thái Nguyên</small>" in html
    assert "Thành phố Thái Nguyên" not in html

    settings.IOC_PROVINCE = "01"
    assert installation_name() == "Thành phố Hà Nội"
    settings.IOC_CITY_NAME = "Khu đô thị Thử Nghiệm"
    assert installation_name() == "Khu đô thị Thử Nghiệm"
    settings.IOC_CITY_NAME, settings.IOC_PROVINCE = "", "99"
    assert installation_name() == ""  # a code the list lacks names nothing; pages still work
    assert login("operator").get("/ops/").status_code == 200
