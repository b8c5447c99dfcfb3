"""``manage.py merger_files``: the files of a merger of today's units, which ``reorganise``
accepts as they are (a new user's first reorganisation of the demo, README)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import shapely
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from ioc import geo
from ioc.models import User, Ward
from services.choices import EntryKind
from services.models import ServiceRequest
from tests.support import OTHER_WARD, OWN_WARD, file_request


def _write(folder: Path, **options: str) -> None:
    call_command("merger_files", str(folder), stdout=StringIO(), **options)


def _reorganise(folder: Path, *, dry_run: bool) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command(
            "reorganise",
            str(folder / "plan.geojson"),
            str(folder / "mapping.csv"),
            effective=str(timezone.localdate()),
            dry_run=dry_run,
            stdout=out,
        )
    return out.getvalue()


def test_the_files_of_a_merger_are_accepted_and_applied_as_written(
    demo_city: None, tmp_path: Path
) -> None:
    areas = [
        geo.boundary_shape(Ward.objects.current().get(code=code).boundary)
        for code in (OWN_WARD, OTHER_WARD)
    ]
    _write(tmp_path, units=f"{OWN_WARD},{OTHER_WARD}", keep=OWN_WARD, name="Trung Tâm")
    plan = json.loads((tmp_path / "plan.geojson").read_text("utf-8"))
    assert [f["properties"]["code"] for f in plan["features"]] == [OWN_WARD]
    mapping = (tmp_path / "mapping.csv").read_text("utf-8").splitlines()
    assert mapping[0] == "old_code,new_code,transfer,old_name,new_name"
    assert {line.split(",")[0] for line in mapping[1:]} == {OWN_WARD, OTHER_WARD}
    request = file_request(OTHER_WARD)
    deadline = request.deadline_at

    dry = _reorganise(tmp_path, dry_run=True)
    assert request.code in dry
    assert not ServiceRequest.objects.filter(pk=request.pk, ward__code=OWN_WARD).exists()

    _reorganise(tmp_path, dry_run=False)
    merged = Ward.objects.current().get(code=OWN_WARD)
    assert merged.name == "Trung Tâm"
    union = shapely.union_all(areas)
    assert geo.boundary_shape(merged.boundary).symmetric_difference(union).area < 1e-9
    request.refresh_from_db()
    assert request.ward == merged and request.deadline_at == deadline
    assert request.timeline.filter(kind=EntryKind.MOVED, public=True).exists()
    for username in ("official1", "official2"):  # each official's unit went into it
        assert list(User.objects.get(username=username).wards.all()) == [merged]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"units": f"{OWN_WARD},{OTHER_WARD}", "keep": "00000"}, "one of the merged"),
        ({"units": f"{OWN_WARD},99999", "keep": OWN_WARD}, "99999"),
        ({"units": OWN_WARD, "keep": OWN_WARD}, "at least two"),
    ],
)
def test_a_merger_that_cannot_be_written_says_why_and_writes_nothing(
    demo_city: None, tmp_path: Path, options: dict[str, Any], says: str
) -> None:
    with translation.override("en"), pytest.raises(CommandError, match=says):
        _write(tmp_path / "out", name="X", **options)
    assert not (tmp_path / "out").exists()


def test_the_dry_run_is_written_in_the_platforms_language(demo_city: None, tmp_path: Path) -> None:
    _write(tmp_path, units=f"{OWN_WARD},{OTHER_WARD}", keep=OWN_WARD, name="Trung Tâm")
    out = StringIO()
    call_command(
        "reorganise",
        str(tmp_path / "plan.geojson"),
        str(tmp_path / "mapping.csv"),
        effective=str(timezone.localdate()),
        dry_run=True,
        stdout=out,
    )
    text = out.getvalue()
    assert text.startswith("Chạy thử, chưa thay đổi gì. Ngày ")
    assert f"{OWN_WARD} Phường Trung Tâm (toàn bộ)" in text
    assert "Cần người xem xét: 0" in text
