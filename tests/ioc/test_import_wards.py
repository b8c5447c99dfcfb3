"""Ward import: ioc.services.wards_import and ``manage.py import_wards`` (all or nothing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation
from shapely.geometry import Point

from ioc.demo.loader import former_units_feature_collection, new_units_feature_collection
from ioc.geo import boundary_shape, ward_for_point
from ioc.models import AuditEntry, Ward
from ioc.services import WardImportError, wards_import
from tests.support import LAST_FORMER_DAY, OTHER_WARD_NAME, OWN_WARD_NAME, square
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN

pytestmark = pytest.mark.usefixtures("fresh_ward_index")  # wards change in rolled-back transactions
NEW = "99001"


def new_feature(code: str = NEW, **properties: Any) -> dict[str, Any]:
    """A valid feature for a ward the demo city does not have."""
    geometry = properties.pop("geometry", square(105.95, 21.50, half=0.002))
    props = {"code": code, "name": "Thử Nghiệm", "kind": "phuong", **properties}
    return {"type": "Feature", "geometry": geometry, "properties": props}


def feature_of(code: str, on: date | None = None, **changes: Any) -> dict[str, Any]:
    """The feature that would import the unit ``code`` names on ``on`` (default today)
    unchanged, with ``changes`` applied."""
    ward = Ward.objects.current(on).get(code=code)
    props: dict[str, Any] = {
        "code": ward.code,
        "name": ward.name,
        "kind": ward.kind,
        "parent_code": ward.parent_code,
        "parent_name": ward.parent_name,
        "province_code": ward.province_code,
        "province_name": ward.province_name,
        "valid_from": ward.valid_from.isoformat() if ward.valid_from else None,
        "valid_to": ward.valid_to.isoformat() if ward.valid_to else None,
    }
    geometry = changes.pop("geometry", ward.boundary)
    props.update(changes)
    return {"type": "Feature", "geometry": geometry, "properties": props}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def database_state() -> dict[str, Any]:
    """Every ward row, field by field, and the size of the audit log."""
    return {
        "wards": list(Ward.objects.order_by("code").values()),
        "audit_entries": AuditEntry.objects.count(),
    }


def run_import(path: Path, *args: str) -> str:
    """Run ``import_wards`` on a file and return what it printed."""
    out = StringIO()
    with translation.override("en"):
        call_command("import_wards", str(path), *args, stdout=out)
    return out.getvalue()


def write_geojson(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "wards.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# --- creating, updating, leaving alone ------------------------------------------------------


def test_import_creates_new_wards_with_their_properties(demo_city: None) -> None:
    before = Ward.objects.count()
    report = wards_import(
        collection=collection(
            new_feature(NEW, parent_code="164", province_name="Tỉnh Thái Nguyên"),
            new_feature("99002", kind="Xã", geometry=square(105.97, 21.50, half=0.002)),
        )
    )

    assert report.created == [NEW, "99002"]
    assert report.updated == {}
    assert report.unchanged == []
    assert Ward.objects.count() == before + 2
    ward = Ward.objects.get(code=NEW)
    assert (ward.name, ward.kind, ward.parent_code, ward.province_name) == (
        "Thử Nghiệm",
        "phuong",
        "164",
        "Tỉnh Thái Nguyên",
    )
    assert ward.boundary == square(105.95, 21.50, half=0.002)
    assert (float(ward.centroid_lon), float(ward.centroid_lat)) == (105.95, 21.5)
    assert Ward.objects.get(code="99002").kind == "xa"


def test_created_ward_gets_a_ward_created_audit_entry(demo_city: None) -> None:
    wards_import(collection=collection(new_feature()), actor_label="import_wards test.geojson")

    ward = Ward.objects.get(code=NEW)
    entry = AuditEntry.objects.get(action="ward.created", object_id=str(ward.pk))
    assert entry.object_type == "ioc.ward"
    assert entry.ward_code == NEW
    assert entry.actor is None
    assert entry.actor_label == "import_wards test.geojson"
    assert entry.before is None
    assert entry.after["code"] == NEW
    assert entry.after["name"] == "Thử Nghiệm"
    assert "boundary" not in entry.after


def test_import_updates_a_changed_ward_and_names_the_changed_fields(demo_city: None) -> None:
    report = wards_import(
        collection=collection(feature_of(OWN, name=f"{OWN_WARD_NAME} Mới", parent_name="TP"))
    )

    assert report.updated == {OWN: ["name", "parent_name"]}
    assert report.created == []
    assert report.unchanged == []
    ward = Ward.objects.current().get(code=OWN)
    assert (ward.name, ward.parent_name) == (f"{OWN_WARD_NAME} Mới", "TP")
    entry = AuditEntry.objects.exclude(actor_label="load_demo").get(
        action="ward.updated", ward_code=OWN
    )
    assert entry.before["name"] == OWN_WARD_NAME
    assert entry.after["name"] == f"{OWN_WARD_NAME} Mới"


def test_moving_a_boundary_also_moves_the_centre(demo_city: None) -> None:
    report = wards_import(
        collection=collection(feature_of(OWN, geometry=square(105.95, 21.50, half=0.002)))
    )

    assert report.updated == {OWN: ["boundary", "centroid_lat", "centroid_lon"]}
    ward = Ward.objects.current().get(code=OWN)
    assert (float(ward.centroid_lon), float(ward.centroid_lat)) == (105.95, 21.5)


def test_reimporting_the_demos_boundaries_leaves_every_unit_unchanged(demo_city: None) -> None:
    before = database_state()

    today = wards_import(collection=new_units_feature_collection())
    former = wards_import(collection=former_units_feature_collection(), on=LAST_FORMER_DAY)

    assert sorted(today.unchanged + former.unchanged) == sorted(
        ward["code"] for ward in before["wards"] if ward["boundary"] is not None
    )
    assert today.created == former.created == []
    assert today.updated == former.updated == {}
    assert database_state() == before


def test_import_reports_created_updated_and_unchanged_together(demo_city: None) -> None:
    report = wards_import(
        collection=collection(feature_of(OTHER), new_feature(), feature_of(OWN, name="Mới"))
    )

    assert (report.created, report.updated, report.unchanged) == (
        [NEW],
        {OWN: ["name"]},
        [OTHER],
    )


# --- the command ----------------------------------------------------------------------------


def test_command_imports_the_file_and_prints_what_it_did(demo_city: None, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path, collection(new_feature(), feature_of(OWN, name="Mới"), feature_of(OTHER))
    )

    output = run_import(path)

    assert output.splitlines() == [
        "created 1, updated 1, unchanged 1.",
        f"  + {NEW}",
        f"  ~ {OWN}: name",
    ]
    assert Ward.objects.current().get(code=OWN).name == "Mới"
    entry = AuditEntry.objects.get(action="ward.created", ward_code=NEW)
    assert entry.actor_label == "import_wards wards.geojson"


def test_command_reads_a_file_saved_with_a_byte_order_mark(demo_city: None, tmp_path: Path) -> None:
    path = tmp_path / "bom.geojson"
    path.write_text(json.dumps(collection(new_feature())), encoding="utf-8-sig")

    assert run_import(path).startswith("created 1,")
    assert Ward.objects.filter(code=NEW).exists()


def test_dry_run_reports_what_would_change_and_changes_nothing(
    demo_city: None, tmp_path: Path
) -> None:
    path = write_geojson(tmp_path, collection(new_feature(), feature_of(OWN, name="Mới")))
    before = database_state()

    output = run_import(path, "--dry-run")

    assert output.splitlines() == [
        "Dry run, nothing changed: would have created 1, updated 1, unchanged 0.",
        f"  + {NEW}",
        f"  ~ {OWN}: name",
    ]
    assert database_state() == before


# --- bad files change nothing ---------------------------------------------------------------


def _good_then(bad: dict[str, Any]) -> dict[str, Any]:
    """A file whose first features would create and update wards, and whose LAST is bad."""
    return collection(new_feature(), feature_of(OWN, name="Mới"), bad)


def _bow_tie() -> dict[str, Any]:
    coordinates = [[[105.9, 21.5], [105.91, 21.51], [105.91, 21.5], [105.9, 21.51], [105.9, 21.5]]]
    return {"type": "Polygon", "coordinates": coordinates}


BAD_FILES: dict[str, tuple[Callable[[], Any], str]] = {
    "not a FeatureCollection": (
        lambda: new_feature(),
        "The file must be a GeoJSON FeatureCollection.",
    ),
    "a list instead of an object": (
        lambda: [new_feature()],
        "The file must be a GeoJSON FeatureCollection.",
    ),
    "no features": (lambda: collection(), "The FeatureCollection has no features."),
    "a feature that is not a Feature": (
        lambda: _good_then({"type": "Polygon", "coordinates": []}),
        "feature 3: not a GeoJSON Feature.",
    ),
    "properties not an object": (
        lambda: _good_then({"type": "Feature", "geometry": None, "properties": ["x"]}),
        "feature 3: properties must be an object.",
    ),
    "missing code": (
        lambda: _good_then(new_feature(code="")),
        "feature 3: properties 'code' and 'name' are required.",
    ),
    "missing name": (
        lambda: _good_then(new_feature("99003", name="  ")),
        "feature 3 (99003): properties 'code' and 'name' are required.",
    ),
    "bad kind": (
        lambda: _good_then(new_feature("99003", kind="quận")),
        "feature 3 (99003): 'kind' must be one of phuong, xa, dac_khu, thi_tran.",
    ),
    "self-intersecting boundary": (
        lambda: _good_then(new_feature("99003", geometry=_bow_tie())),
        "feature 3 (99003): The boundary is not a valid polygon (Self-intersection",
    ),
    "point instead of polygon": (
        lambda: _good_then(new_feature("99003", geometry={"type": "Point", "coordinates": [1, 2]})),
        "feature 3 (99003): A ward boundary must be a GeoJSON Polygon or MultiPolygon.",
    ),
    "unreadable coordinates": (
        lambda: _good_then(new_feature("99003", geometry={"type": "Polygon", "coordinates": "x"})),
        "feature 3 (99003): The boundary's coordinates cannot be read",
    ),
    "latitude first": (
        lambda: _good_then(new_feature("99003", geometry=square(21.5, 105.9, half=0.002))),
        "feature 3 (99003): Longitude must be between -180 and 180",
    ),
    "polygon without coordinates": (
        lambda: _good_then(new_feature("99003", geometry={"type": "Polygon"})),
        "feature 3 (99003):",
    ),
    "duplicate codes": (
        lambda: _good_then(new_feature(NEW, name="Trùng")),
        f"codes appear more than once: {NEW}.",
    ),
    "a successor named": (
        lambda: _good_then(new_feature("99003", valid_to="2025-07-01", successor=NEW)),
        "feature 3 (99003): 'successor' is not read by an import: a reorganisation links",
    ),
    "a code in force twice": (
        lambda: _good_then(new_feature(OTHER, valid_from="2026-01-01")),
        f"ward {OTHER}: 'Thử Nghiệm' and '{OTHER_WARD_NAME}' would both be in force with code "
        f"{OTHER} (01/01/2026–… and 01/07/2025–…).",
    ),
    "bad date": (
        lambda: _good_then(new_feature("99003", valid_from="2025-13-45")),
        "feature 3 (99003): '2025-13-45' is not a date (use YYYY-MM-DD).",
    ),
    "valid_to before valid_from": (
        lambda: _good_then(new_feature("99003", valid_from="2025-07-01", valid_to="2025-01-01")),
        "feature 3 (99003): valid_to must be after valid_from.",
    ),
    "parent code longer than the column": (
        lambda: _good_then(new_feature("99003", parent_code="1" * 17)),
        "parent_code",
    ),
}


@pytest.mark.parametrize("problem", BAD_FILES)
def test_bad_file_is_refused_naming_the_problem_and_changes_nothing(
    problem: str, demo_city: None, tmp_path: Path
) -> None:
    make_file, message = BAD_FILES[problem]
    path = write_geojson(tmp_path, make_file())
    before = database_state()

    with pytest.raises(CommandError) as raised:
        run_import(path)

    assert str(raised.value).startswith("Nothing was imported. Fix these problems:\n  - ")
    assert message in str(raised.value)
    assert database_state() == before


def test_import_with_bad_last_feature_changes_nothing(demo_city: None) -> None:
    before = database_state()
    file = _good_then(new_feature("99003", kind="quận"))

    with pytest.raises(WardImportError) as raised:
        wards_import(collection=file)

    # In the platform's language (the admin shows a reorganisation's problems as they are).
    assert raised.value.problems == [
        "đối tượng 3 (99003): “kind” phải là một trong phuong, xa, dac_khu, thi_tran."
    ]
    assert database_state() == before
    assert not Ward.objects.filter(code=NEW).exists()
    assert Ward.objects.current().get(code=OWN).name == OWN_WARD_NAME


def test_import_lists_every_problem_in_the_file_at_once(demo_city: None) -> None:
    file = collection(new_feature(kind="quận"), new_feature("99002", valid_to="someday"))

    with translation.override("en"), pytest.raises(WardImportError) as raised:
        wards_import(collection=file)

    assert raised.value.problems == [
        f"feature 1 ({NEW}): 'kind' must be one of phuong, xa, dac_khu, thi_tran.",
        "feature 2 (99002): 'someday' is not a date (use YYYY-MM-DD).",
    ]


def test_invalid_json_is_refused_with_its_position_and_changes_nothing(
    demo_city: None, tmp_path: Path
) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [}', encoding="utf-8")
    before = database_state()

    with pytest.raises(CommandError, match=r"is not valid JSON \(line 2, column 15"):
        run_import(path)

    assert database_state() == before


def test_missing_file_is_refused_by_name(demo_city: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"No such file: .*absent\.geojson"):
        run_import(tmp_path / "absent.geojson")


def test_file_that_is_not_utf8_is_refused(demo_city: None, tmp_path: Path) -> None:
    path = tmp_path / "latin1.geojson"
    text = json.dumps(collection(new_feature(name="Gia Sàng")), ensure_ascii=False)
    path.write_bytes(text.encode("latin-1"))
    before = database_state()

    with pytest.raises(CommandError, match="is not UTF-8 text"):
        run_import(path)

    assert database_state() == before


# --- lifetimes: a code names one unit a day ---------------------------------------------------
# A reorganisation after the demo's (2025) one: official1's unit ends today.


def ending() -> tuple[str, date]:
    """Today as a ``valid_to`` (the first day no longer in force), and the day before."""
    today = timezone.localdate()
    return today.isoformat(), today - timedelta(days=1)


def test_a_retired_ward_leaves_current_but_keeps_its_row(demo_city: None) -> None:
    own = Ward.objects.current().get(code=OWN)
    end, last_day = ending()

    report = wards_import(collection=collection(feature_of(OWN, valid_to=end)))

    assert report.updated == {OWN: ["valid_to"]}
    current = set(Ward.objects.current().values_list("code", flat=True))
    assert OWN not in current
    assert OTHER in current
    assert len(current) == 91
    assert Ward.objects.get(pk=own.pk).valid_to == timezone.localdate()
    assert Ward.objects.current(on=last_day).get(code=OWN).pk == own.pk


def test_a_retired_ward_no_longer_answers_point_lookups(
    demo_city: None, django_capture_on_commit_callbacks: Any
) -> None:
    ward = Ward.objects.current().get(code=OWN)
    centre = (ward.centroid_lon, ward.centroid_lat)
    assert ward_for_point(*centre) == OWN

    with django_capture_on_commit_callbacks(execute=True):
        wards_import(collection=collection(feature_of(OWN, valid_to=ending()[0])))

    assert ward_for_point(*centre) is None


def test_a_code_given_to_new_land_names_the_old_unit_before_and_the_new_one_after(
    demo_city: None,
) -> None:
    """As the 2025 reform did: the old unit ends, a new unit takes its code the next day."""
    end, last_day = ending()
    report = wards_import(
        collection=collection(
            feature_of(OWN, valid_to=end),
            new_feature(OWN, name="Mới", valid_from=end),
        )
    )

    assert report.updated == {OWN: ["valid_to"]} and report.created == [OWN]
    assert Ward.objects.current(on=last_day).get(code=OWN).name == OWN_WARD_NAME
    assert Ward.objects.current(on=date.fromisoformat(end)).get(code=OWN).name == "Mới"
    assert Ward.objects.current().get(code=OWN).name == "Mới"


def test_a_feature_without_a_start_names_the_unit_in_force_on_the_given_day(
    demo_city: None,
) -> None:
    old = feature_of(OWN, on=LAST_FORMER_DAY, name="Sửa tên cũ")
    del old["properties"]["valid_from"], old["properties"]["valid_to"]

    report = wards_import(collection=collection(old), on=LAST_FORMER_DAY)

    assert report.updated == {OWN: ["name"]}
    assert Ward.objects.current(on=LAST_FORMER_DAY).get(code=OWN).name == "Sửa tên cũ"
    assert Ward.objects.current().get(code=OWN).name == OWN_WARD_NAME


def test_the_audit_entry_records_the_end_of_a_unit(demo_city: None) -> None:
    end, _last_day = ending()
    wards_import(collection=collection(feature_of(OWN, valid_to=end)))

    entry = AuditEntry.objects.exclude(actor_label="load_demo").get(
        action="ward.updated", ward_code=OWN
    )
    assert (entry.before["valid_to"], entry.after["valid_to"]) == (None, end)


def test_dry_run_reports_the_same_changes_as_the_real_run(demo_city: None) -> None:
    file = collection(feature_of(OWN, valid_to=ending()[0]), new_feature(NEW))

    dry = wards_import(collection=file, dry_run=True)
    assert Ward.objects.current().get(code=OWN).valid_to is None
    real = wards_import(collection=file)

    assert (real.updated, real.created) == ({OWN: ["valid_to"]}, [NEW])
    assert (dry.updated, dry.created) == (real.updated, real.created)


def test_imported_centre_lies_inside_an_l_shaped_boundary(demo_city: None) -> None:
    # The centroid of an L lies outside it; the stored centre must still be inside.
    ring = [[0, 0], [0.02, 0], [0.02, 0.002], [0.002, 0.002], [0.002, 0.02], [0, 0.02], [0, 0]]
    l_shape = {"type": "Polygon", "coordinates": [[[105.9 + x, 21.5 + y] for x, y in ring]]}

    wards_import(collection=collection(new_feature(geometry=l_shape)))

    ward = Ward.objects.get(code=NEW)
    centre = Point(float(ward.centroid_lon), float(ward.centroid_lat))
    assert boundary_shape(ward.boundary).contains(centre)
