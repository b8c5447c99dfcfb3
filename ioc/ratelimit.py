"""A fixed-window request counter shared by every web process through the cache.

``over_limit`` counts a call and says whether it is one too many. A limit on what
*succeeds* (the portal's filings) checks first with ``at_limit`` and counts afterwards
with ``count``, once the call has succeeded.
"""

from __future__ import annotations

import contextlib
import time

from django.core.cache import cache


def _key(name: str, window_seconds: int) -> str:
    """The cache key of ``name``'s counter in the current window."""
    return f"ratelimit:{name}:{int(time.time() // window_seconds)}"


def over_limit(name: str, *, limit: int, window_seconds: int) -> bool:
    """Count one more call for ``name`` in the current window; True once past ``limit``
    (``limit`` <= 0: no limit)."""
    if limit <= 0:
        return False
    key = _key(name, window_seconds)
    cache.add(key, 0, timeout=window_seconds * 2)
    try:
        return cache.incr(key) > limit
    except ValueError:  # the key expired between add and incr
        return False


def at_limit(name: str, *, limit: int, window_seconds: int) -> bool:
    """True once ``limit`` calls of ``name`` were counted in the current window, without
    counting one (``limit`` <= 0: no limit)."""
    if limit <= 0:
        return False
    return int(cache.get(_key(name, window_seconds), 0)) >= limit


def count(name: str, *, window_seconds: int) -> None:
    """Count one call of ``name`` in the current window (what ``at_limit`` reads)."""
    key = _key(name, window_seconds)
    cache.add(key, 0, timeout=window_seconds * 2)
    # A key expired between add and incr means the window has turned anyway.
    with contextlib.suppress(ValueError):
        cache.incr(key)
