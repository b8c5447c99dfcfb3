"""A fixed-window request counter shared by every web process through the cache.

``over_limit`` counts a call and says whether it is one too many. A limit on what
*succeeds* (the portal's filings) checks first with ``at_limit`` and counts afterwards
with ``count``, once the call has succeeded.

The cache (Redis in production) is an optional service: while it is away every limit lets
calls through, with a warning in the log, rather than turning each request into an error
(the ingest API keeps accepting into its outbox, the portal keeps taking filings).
"""

from __future__ import annotations

import contextlib
import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _key(name: str, window_seconds: int) -> str:
    """The cache key of ``name``'s counter in the current window."""
    return f"ratelimit:{name}:{int(time.time() // window_seconds)}"


def _cache_away(name: str) -> None:
    """Log that ``name``'s limit is not applied because the cache did not answer."""
    logger.warning("rate limit %s not applied: the cache is unavailable", name, exc_info=True)


def over_limit(name: str, *, limit: int, window_seconds: int) -> bool:
    """Count one more call for ``name`` in the current window; True once past ``limit``
    (``limit`` <= 0: no limit; cache away: False)."""
    if limit <= 0:
        return False
    key = _key(name, window_seconds)
    try:
        cache.add(key, 0, timeout=window_seconds * 2)
        return cache.incr(key) > limit
    except ValueError:  # the key expired between add and incr
        return False
    except Exception:  # the cache (Redis) is down or unreachable
        _cache_away(name)
        return False


def at_limit(name: str, *, limit: int, window_seconds: int) -> bool:
    """True once ``limit`` calls of ``name`` were counted in the current window, without
    counting one (``limit`` <= 0: no limit; cache away: False)."""
    if limit <= 0:
        return False
    try:
        return int(cache.get(_key(name, window_seconds), 0)) >= limit
    except Exception:  # the cache (Redis) is down or unreachable
        _cache_away(name)
        return False


def count(name: str, *, window_seconds: int) -> None:
    """Count one call of ``name`` in the current window (what ``at_limit`` reads)."""
    key = _key(name, window_seconds)
    try:
        cache.add(key, 0, timeout=window_seconds * 2)
        # A key expired between add and incr means the window has turned anyway.
        with contextlib.suppress(ValueError):
            cache.incr(key)
    except Exception:  # the cache (Redis) is down or unreachable
        _cache_away(name)
