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
# A fault whose code is known, named as people say it.
TITLE_FAULT_NAMED = gettext_noop("%(what)s at %(device)s")
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

# Fault codes devices commonly send, as people say them; an unknown code is shown as sent.
FAULT_NAMES = {
    "video_loss": gettext_noop("Video signal lost"),
    "tamper": gettext_noop("Camera moved or covered"),
    "storage_full": gettext_noop("Recording storage full"),
    "lamp_failure": gettext_noop("Signal lamp failed"),
    "detector_failure": gettext_noop("Vehicle detector failed"),
    "door_open": gettext_noop("Cabinet door open"),
    "power_low": gettext_noop("Power low"),
    "sensor_drift": gettext_noop("Sensor calibration drift"),
}


def alert_title(template: str, **values: Any) -> str:
    """An alert title in the platform's language (alerts are read by people)."""
    with translation.override(settings.LANGUAGE_CODE):
        if "what" in values and values["what"] in DETECTION_NAMES:
            values["what"] = _(DETECTION_NAMES[values["what"]])
        if template == TITLE_FAULT and values.get("code") in FAULT_NAMES:
            template = TITLE_FAULT_NAMED
            values["what"] = _(FAULT_NAMES[values["code"]])
        return _(template) % values
