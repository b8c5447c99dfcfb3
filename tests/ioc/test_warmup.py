"""The warm-up each gunicorn worker runs before its first request (ioc.warmup)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.template import engines
from django.urls import clear_url_caches, get_resolver
from django.utils import timezone, translation
from django.utils.translation import trans_real

from ioc.provinces import official_provinces
from ioc.warmup import project_template_names, warm_up
from services.holidays import statutory_year


def test_warm_up_compiles_the_project_templates_fills_the_url_tables_and_the_days_off() -> None:
    (loader,) = engines["django"].engine.template_loaders  # the cached loader
    loader.reset()
    clear_url_caches()
    trans_real._translations.clear()
    translation.deactivate()
    statutory_year.cache_clear()
    official_provinces.cache_clear()

    warm_up()

    cached = loader.get_template_cache
    for name in ("ops/home.html", "ops/camera_wall.html", "portal/home.html", "base.html"):
        assert name in cached, name
    assert "cameras/device_detail.html" in cached  # an app's own templates too
    assert not any(name.startswith("admin/") for name in cached)  # not Django's own
    resolver = get_resolver()
    for language, _name in settings.LANGUAGES:
        assert language in resolver._reverse_dict, language  # filled for each language
        assert language in trans_real._translations, language  # catalogue loaded
    this_year = timezone.localdate().year
    for year in (this_year, this_year + 1):
        statutory_year(year)
    assert statutory_year.cache_info().hits == 2  # worked out already: no lunar tables
    assert official_provinces.cache_info().currsize == 1  # the header's name: list read


def test_template_names_leave_out_installed_packages_and_other_directories(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "templates" / "ops").mkdir(parents=True)
    (project / "templates" / "ops" / "home.html").write_text("x")
    # A virtual environment inside the project, whatever its name: Django admin's own.
    library = project / "env" / "lib" / "python3.11" / "site-packages" / "admin" / "templates"
    library.mkdir(parents=True)
    (library / "base.html").write_text("x")
    elsewhere = tmp_path / "shared" / "templates"  # outside the project
    elsewhere.mkdir(parents=True)
    (elsewhere / "other.html").write_text("x")

    names = project_template_names([project / "templates", library, elsewhere], project)

    assert names == ["ops/home.html"]
