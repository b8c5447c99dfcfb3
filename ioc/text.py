"""Text helpers: free text as services store it, and Vietnamese sorting.

Sorting: Vietnamese dictionary order treats ă, â, đ, ê, ô, ơ, ư as letters of their own
(a < ă < â < b … d < đ …) and tone marks as a secondary difference (a < à < á < ả < ã < ạ).
Byte order puts "Đồng Quang" after "Tân Long", and the Unicode default collation (and so
ICU's root locale, without the vi tailoring) treats ă and â as mere accents of a; a small
key function gets it right without a system ICU library.
"""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {letter: index for index, letter in enumerate(_ALPHABET, start=100)}
# ngang (none), huyền, sắc, hỏi, ngã, nặng
_TONES = {"\u0300": 1, "\u0301": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}


def vietnamese_sort_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A key that sorts Vietnamese names in dictionary order (letters first, then tones)."""
    letters: list[int] = []
    tones: list[int] = []
    for char in text.casefold():
        decomposed = unicodedata.normalize("NFD", char)
        base, marks = decomposed[0], decomposed[1:]
        tone = 0
        for mark in marks:
            if mark in _TONES:
                tone = _TONES[mark]
            else:
                base = unicodedata.normalize("NFC", base + mark)
        if base in _RANK:
            letters.append(_RANK[base])
        elif base.isdigit():
            letters.append(10 + int(base))
        elif base.isspace():
            letters.append(1)
        else:
            letters.append(1000 + ord(base))
        tones.append(tone)
    return tuple(letters), tuple(tones)


MAX_TEXT = 4000


def text_clean(
    value: str, field: str, *, required: bool, message: str = "", limit: int = MAX_TEXT
) -> str:
    """Free text as stored: trimmed, without NUL characters (PostgreSQL refuses them);
    a ValidationError on ``field`` when it is required and empty, or longer than ``limit``."""
    text = (value or "").replace("\x00", "").strip()
    if required and not text:
        raise ValidationError({field: message or _("This field is required.")})
    if len(text) > limit:
        raise ValidationError({field: _("Keep it under %(n)s characters.") % {"n": f"{limit:,}"}})
    return text


def in_platform_language(message: str) -> str:
    """``message`` translated into the platform's language (``LANGUAGE_CODE``), whatever
    language the request at hand uses: for text that is stored and read later by everyone
    (a command's error, an alert's title). Mark the message with ``gettext_noop``."""
    with translation.override(settings.LANGUAGE_CODE):
        return _(message)
