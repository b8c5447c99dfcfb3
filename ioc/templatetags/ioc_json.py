"""``json_script`` for large, already plain data (the dashboard's snapshot), written by
orjson: the same element and escaping as Django's filter, several times faster."""

from __future__ import annotations

from typing import Any

import orjson
from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# What Django's json_script escapes, so that the text cannot close the element (as bytes
# replacements: str.translate would take a character at a time through a dict).
_ESCAPES = ((b"<", b"\\u003C"), (b">", b"\\u003E"), (b"&", b"\\u0026"))


@register.filter(is_safe=True)
def plain_json_script(value: Any, element_id: str) -> SafeString:
    """``value`` (plain JSON types only, as ``ioc.realtime.json_safe`` returns) in a
    ``<script type="application/json">`` element with id ``element_id``."""
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    for character, escaped in _ESCAPES:
        text = text.replace(character, escaped)
    return format_html(
        '<script id="{}" type="application/json">{}</script>',
        element_id,
        mark_safe(text.decode()),  # noqa: S308 - JSON whose <, > and & are escaped above
    )
