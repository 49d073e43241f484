"""The ingest's per-project count per UTC minute, in the Django cache."""

import pytest
from django.core.cache import cache

from monitoring.errors.sentry import ratelimit
from monitoring.errors.sentry.ratelimit import ratelimit_count, ratelimit_exceeded

MINUTE = 1_700_000_040.0  # the start of a UTC minute


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_counts_add_up_within_a_minute_and_start_again_in_the_next(settings):
    settings.ERRORS_INGEST_RATE_PER_MINUTE = 5
    ratelimit_count(project_id=7, items=2, now=MINUTE)
    ratelimit_count(project_id=7, items=2, now=MINUTE + 30)
    assert ratelimit_exceeded(project_id=7, now=MINUTE + 31) is None
    ratelimit_count(project_id=7, items=1, now=MINUTE + 31)
    assert ratelimit_exceeded(project_id=7, now=MINUTE + 31) == 29
    assert ratelimit_exceeded(project_id=8, now=MINUTE + 31) is None  # per project
    assert ratelimit_exceeded(project_id=7, now=MINUTE + 60) is None
    ratelimit_count(project_id=7, items=0, now=MINUTE + 61)
    assert cache.get(ratelimit._key(7, MINUTE + 61)) is None


def test_a_count_made_by_another_process_meanwhile_is_added_to(monkeypatch):
    # The minute's first incr finds no key; before this process adds it, another one does.
    key = ratelimit._key(3, MINUTE)
    incr = cache.incr
    calls = []

    def racing_incr(name, delta=1, **kwargs):
        calls.append(name)
        if len(calls) == 1:
            cache.set(key, 4, timeout=120)
            raise ValueError(name)
        return incr(name, delta, **kwargs)

    monkeypatch.setattr(cache, "incr", racing_incr)
    ratelimit_count(project_id=3, items=2, now=MINUTE)
    assert cache.get(key) == 6 and len(calls) == 2
