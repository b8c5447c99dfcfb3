"""The titles of the alerts that feeds raise (and ``alert_title`` for the traffic-signal
commands' alerts too), stored in the platform's language when the alert is raised."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

# Alert titles, stored in the platform's language when the alert is raised.
TITLE_THRESHOLD = gettext_noop("%(metric)s = %(value)s %(unit)s at %(device)s (limit %(limit)s)")
TITLE_DETECTION = gettext_noop("Detected %(what)s at %(device)s")
TITLE_FAULT = gettext_noop("Fault %(code)s at %(device)s")
# What cameras detect, as people say it; an unknown kind is shown as sent.
DETECTION_NAMES = {
    "accident": gettext_noop("a traffic accident"),
    "fire": gettext_noop("fire"),
    "smoke": gettext_noop("smoke"),
    "flooding": gettext_noop("flooding"),
    "crowd": gettext_noop("a crowd"),
    "wrong_way": gettext_noop("a wrong-way vehicle"),
    "congestion": gettext_noop("congestion"),
}


def alert_title(template: str, **values: Any) -> str:
    """An alert title in the platform's language (alerts are read by people)."""
    with translation.override(settings.LANGUAGE_CODE):
        if "what" in values and values["what"] in DETECTION_NAMES:
            values["what"] = _(DETECTION_NAMES[values["what"]])
        return _(template) % values
