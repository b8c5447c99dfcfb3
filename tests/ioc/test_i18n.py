"""The Vietnamese catalogue is complete, compiled, and covers every interface string."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

from tests.support import ON_CI

ROOT = Path(__file__).resolve().parents[2]
VI_PO = ROOT / "locale" / "vi" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


def entry_text(entry: polib._BaseEntry) -> tuple[str, str, tuple[str, ...]]:
    """An entry's msgid and translation(s), comparable between .po and .mo files."""
    plural = tuple(entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural))
    return entry.msgid, entry.msgstr, plural


def test_every_vietnamese_entry_is_translated_and_not_fuzzy() -> None:
    catalogue = polib.pofile(str(VI_PO))
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert untranslated == []
    assert fuzzy == []
    assert len(catalogue.translated_entries()) > 50


def test_translations_keep_their_placeholders() -> None:
    for entry in polib.pofile(str(VI_PO)).translated_entries():
        # Vietnamese has one plural form, so it must carry the plural source's placeholders.
        source = entry.msgid_plural or entry.msgid
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), (
                entry.msgid
            )


@pytest.mark.parametrize("language", ["vi", "en"])
def test_compiled_catalogue_matches_its_source(language: str) -> None:
    folder = ROOT / "locale" / language / "LC_MESSAGES"
    source = {entry_text(e) for e in polib.pofile(str(folder / "django.po")) if e.translated()}
    compiled = {entry_text(e) for e in polib.mofile(str(folder / "django.mo")) if e.msgid}
    assert compiled == source, "run `make messages` to recompile the catalogue"


def test_catalogue_has_every_string_of_the_code_and_templates(tmp_path: Path) -> None:
    if shutil.which("xgettext") is None:
        if ON_CI:
            pytest.fail("GNU gettext (xgettext) must be installed on CI")
        pytest.skip("GNU gettext is not installed")
    for name in ["ioc", "cameras", "services", "dashboards", "templates"]:
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo")
        )
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    (tmp_path / "locale").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "vi", "--no-location"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "IOC_VAR_DIR": str(tmp_path / "var")},
    )
    extracted = {e.msgid for e in polib.pofile(str(tmp_path / "locale/vi/LC_MESSAGES/django.po"))}
    committed = {e.msgid for e in polib.pofile(str(VI_PO))}
    assert extracted - committed == set(), "new interface text: run `make messages` and translate"
