"""Per-project ingest rate limit, counted in the Django cache per UTC minute.

With Redis as the cache every web process shares the count; with the default local-memory cache
each process counts its own (the limit then applies per process). A limited request is answered
429 with Retry-After (until the minute ends) and X-Sentry-Rate-Limits, which the SDKs read to stop
sending for that long instead of retrying at once.
"""

from django.conf import settings
from django.core.cache import cache

WINDOW = 60


def _key(project_id: int, now: float) -> str:
    return f"errors:ingest:{project_id}:{int(now) // WINDOW}"


def retry_after(now: float) -> int:
    return max(1, WINDOW - int(now) % WINDOW)


def ratelimit_exceeded(*, project_id: int, now: float) -> int | None:
    """Seconds to wait when the project has used this minute's allowance, else None."""
    used = cache.get(_key(project_id, now), 0)
    return retry_after(now) if used >= settings.ERRORS_INGEST_RATE_PER_MINUTE else None


def ratelimit_count(*, project_id: int, items: int, now: float) -> None:
    """Count accepted events and transactions. Checked before and counted after a request, so
    concurrent requests may pass the limit by a few envelopes; a lock would cost every request more."""
    if items <= 0:
        return
    key = _key(project_id, now)
    # One cache operation for every request of a minute but its first (with Redis, one round trip).
    try:
        cache.incr(key, items)
        return
    except ValueError:  # the minute's first count
        pass
    if not cache.add(key, items, timeout=WINDOW * 2):  # another process made it meanwhile
        try:
            cache.incr(key, items)
        except ValueError:  # and it expired since
            cache.set(key, items, timeout=WINDOW * 2)


def rate_limits_header(seconds: int) -> str:
    # Relay's format: retry_after:categories:scope:reason_code; no categories = every kind of item.
    return f"{seconds}::project:project_quota"
