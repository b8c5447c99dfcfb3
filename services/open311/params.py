"""What GeoReport v2 clients send, read: parameters as clean text, numbers, w3 datetimes,
the ``attribute[...]`` answers and the date range of a list; bad input is an Open311Error
(400), never a 500."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from services.open311.protocol import Open311Error

DEFAULT_SPAN = timedelta(days=90)
ATTRIBUTE_PARAM = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")


def clean(value: str | None) -> str:
    """A parameter as text: no NUL (PostgreSQL refuses it), no surrounding spaces."""
    return (value or "").replace("\x00", "").strip()


def param(params: Any, name: str) -> str:
    """The parameter ``name`` as clean text ("" when missing)."""
    return clean(params.get(name))


def list_param(params: Any, name: str) -> list[str]:
    """A comma-separated parameter as its non-empty parts."""
    return [part for part in (clean(p) for p in param(params, name).split(",")) if part]


def datetime_param(params: Any, name: str) -> datetime | None:
    """A w3 datetime with a time zone, or None when not given; 400 otherwise."""
    text = param(params, name)
    if not text:
        return None
    try:
        value = parse_datetime(text.replace(" ", "+"))  # an unescaped + arrives as a space
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Open311Error(
            400,
            _("%(name)s must be a w3 datetime with a time zone, e.g. 2026-11-05T08:15:30+07:00.")
            % {"name": name},
        )
    return value


def coordinate(params: Any, name: str) -> float:
    """A finite WGS84 number (a decimal comma is accepted); 400 otherwise."""
    try:
        value = float(param(params, name).replace(",", "."))
    except ValueError:
        raise Open311Error(400, _("%(name)s must be a number (WGS84).") % {"name": name}) from None
    if not math.isfinite(value):
        raise Open311Error(400, _("%(name)s must be a number (WGS84).") % {"name": name})
    return value


def attributes(params: Any) -> dict[str, Any]:
    """``attribute[code]=value`` and ``attribute[code][]=value`` (multivaluelist)."""
    answers: dict[str, Any] = {}
    for name in params:
        match = ATTRIBUTE_PARAM.match(name)
        if match is None:
            continue
        values = [clean(value) for value in params.getlist(name)]
        code = clean(match.group(1))
        answers[code] = values if match.group(2) or len(values) > 1 else values[0]
    return answers


def validation_text(error: ValidationError) -> str:
    """A service's ValidationError as one line for the error's description."""
    messages: list[str] = []
    if hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            messages.extend(f"{field}: {problem}" for problem in problems)
    else:
        messages.extend(error.messages)
    return " ".join(messages)


def date_range(params: Any) -> tuple[datetime, datetime]:
    """start_date..end_date: the last 90 days when neither is given, 90 days from (or up
    to) the one given; a wider or reversed range is refused."""
    start, end = datetime_param(params, "start_date"), datetime_param(params, "end_date")
    if start is None:
        end = end or timezone.now()
        start = end - DEFAULT_SPAN
    elif end is None:
        end = start + DEFAULT_SPAN
    if start > end:
        raise Open311Error(400, _("start_date must come before end_date."))
    if end - start > DEFAULT_SPAN:
        raise Open311Error(400, _("start_date and end_date may not span more than 90 days."))
    return start, end
