"""What the first request of each server process would otherwise pay for, done as the
process starts: importing every view, Django's reverse-URL tables, the translation
catalogues and the project's compiled templates (about 300 ms on the first /ops/ or map
request of a gunicorn worker, measured), and the statutory days off of this year and the
next (the lunar tables: about 70 ms on the first filing). gunicorn calls it as each
worker starts."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def project_template_names(directories: list[Path], root: Path) -> list[str]:
    """The names of the templates under those of ``directories`` that belong to the
    project (under ``root``, not in an installed package: Django's and the libraries' own,
    admin's hundred among them, are left to first use; so are the project's own admin
    pages, which extend them)."""
    names: list[str] = []
    for directory in directories:
        installed = {"site-packages", "dist-packages"} & set(directory.parts)
        if installed or not directory.is_relative_to(root):
            continue
        names.extend(p.relative_to(directory).as_posix() for p in directory.rglob("*.html"))
    return sorted({name for name in names if not name.startswith("admin/")})


def warm_up() -> None:
    """Import the URLconf (every view), fill the reverse-URL table and load the catalogue
    of each language, compile the project's templates into the cached loader, work out
    the statutory days off that deadlines will read, and read the installation's name from
    the official list (every page's header)."""
    from django.conf import settings
    from django.template import TemplateSyntaxError, engines
    from django.urls import get_resolver
    from django.utils import timezone, translation

    from ioc.provinces import installation_name
    from services.holidays import statutory_year

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 (imports every view module)
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            resolver.reverse_dict  # noqa: B018 (filled per language)
    root = Path(settings.BASE_DIR).resolve()
    for engine in engines.all():
        directories = [Path(d).resolve() for d in getattr(engine, "template_dirs", ())]
        for name in project_template_names(directories, root):
            try:
                engine.get_template(name)
            except TemplateSyntaxError:
                # The page fails on its own when asked for; the worker still starts.
                logger.exception("template %s does not compile", name)
    this_year = timezone.localdate().year
    for year in (this_year, this_year + 1):
        statutory_year(year)
    installation_name()
