"""A fixed-window request counter shared by every web process through the cache."""

from __future__ import annotations

import time

from django.core.cache import cache


def over_limit(name: str, *, limit: int, window_seconds: int) -> bool:
    """Count one more call for ``name`` in the current window; True once past ``limit``
    (``limit`` <= 0: no limit)."""
    if limit <= 0:
        return False
    key = f"ratelimit:{name}:{int(time.time() // window_seconds)}"
    cache.add(key, 0, timeout=window_seconds * 2)
    try:
        return cache.incr(key) > limit
    except ValueError:  # the key expired between add and incr
        return False
