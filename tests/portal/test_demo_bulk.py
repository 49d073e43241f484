"""The demo's fast paths: rollup rows equal to what the rollup job computes, and the traffic
model's shape."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest

from monitoring.sketches import sketch_dumps, sketch_from_values, sketch_loads, sketch_quantile
from portal.demo.bulk import rollup_groups
from portal.demo.traffic import (
    DURATION,
    QUEUE_DEPTH,
    REQUESTS,
    ROUTES,
    SLOT,
    Scenario,
    duration_labels,
    floor_slot,
    samples_between,
    traffic_rate,
)

NOW = datetime(2026, 3, 5, 10, 17, 23, tzinfo=UTC)


def _same_sketch(expected: bytes, got: bytes) -> None:
    a, b = sketch_loads(expected), sketch_loads(got)
    assert (a._store.offset, a._store.bins, a._zero_count, a.count, a._min, a._max) == (
        b._store.offset,
        b._store.bins,
        b._zero_count,
        b.count,
        b._min,
        b._max,
    )
    assert b.sum == pytest.approx(a.sum, rel=1e-12)
    for q in (0.5, 0.95, 0.99):
        assert sketch_quantile(b, q) == sketch_quantile(a, q)


@pytest.mark.parametrize("seed", range(20))
def test_rollup_groups_match_the_rollup_job(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 400))
    values = np.round(rng.lognormal(0, 2, size), int(rng.integers(0, 4)))
    values[rng.random(size) < 0.1] = 0.0  # queue depths and counters can be zero
    edges = [0, *sorted(rng.integers(0, size + 1, int(rng.integers(1, 9))).tolist()), size]
    for (low, high), row in zip(pairwise(edges), rollup_groups(values, edges), strict=True):
        part = values[low:high]
        if low == high:
            assert row is None
            continue
        count, total, smallest, largest, last, sketch = row
        assert (count, smallest, largest, last) == (len(part), part.min(), part.max(), part[-1])
        assert total == pytest.approx(float(np.sum(part)), rel=1e-12)
        _same_sketch(sketch_dumps(sketch_from_values(part)), sketch)


def test_rollup_groups_refuse_negative_values():
    with pytest.raises(ValueError, match="non-negative"):
        rollup_groups(np.array([1.0, -1.0]), [0, 2])


def test_the_incident_is_two_to_three_days_ago_on_an_afternoon():
    for hours in range(0, 24 * 7, 5):
        now = NOW + timedelta(hours=hours)
        scenario = Scenario.around(now)
        assert timedelta(days=2) <= now - scenario.incident_start <= timedelta(days=3)
        assert scenario.incident_start.hour == 14
        assert scenario.incident_start < scenario.outage_start < scenario.outage_end < scenario.incident_end
        assert max(scenario.export_since, scenario.search_slow_since, scenario.emails_stuck_since) < now


def test_traffic_has_a_daily_rhythm():
    day = datetime(2026, 3, 4, tzinfo=UTC).timestamp()  # a Wednesday
    at = day + 3600 * np.array([3.0, 15.0])
    quiet, busy = traffic_rate(at)
    assert busy > 5 * quiet
    assert traffic_rate(np.array([day + 3 * 86400 + 15 * 3600]))[0] < busy  # Saturday afternoon


def test_samples_look_like_a_flushing_registry():
    start = floor_slot(NOW - timedelta(minutes=10))
    samples = samples_between(start, floor_slot(NOW), Scenario.around(NOW), np.random.default_rng(1))
    for (name, _), (times, values) in samples.items():
        assert np.all(np.diff(times) >= 0) and times[0] >= start.timestamp() and times[-1] < NOW.timestamp()
        if name in (REQUESTS, QUEUE_DEPTH):  # one sample per flush slot
            assert np.all(np.diff(times) >= SLOT) and np.all(values == np.round(values))
        assert np.all(values >= 0)
    home = next(route for route in ROUTES if route.pattern == "/")
    _, durations = samples[(DURATION, duration_labels(home))]
    assert 0.02 < float(np.median(durations)) < 0.1


def test_request_durations_carry_the_status_class_and_match_the_request_counts():
    scenario = Scenario.around(NOW)
    start = floor_slot(scenario.incident_start + timedelta(minutes=40))
    samples = samples_between(start, start + timedelta(minutes=30), scenario, np.random.default_rng(3))
    for route in ROUTES:
        classes = {
            dict(labels)["status_class"]: len(times)
            for (name, labels), (times, _) in samples.items()
            if name == DURATION and dict(labels)["route"] == route.pattern
        }
        counted = {"2xx": 0, "4xx": 0, "5xx": 0}
        for (name, labels), (_, values) in samples.items():
            labels = dict(labels)
            if name == REQUESTS and labels["route"] == route.pattern:
                counted[labels["status"][0] + "xx"] += int(values.sum())
        assert classes == {key: count for key, count in counted.items() if count}, route.pattern
    # The incident's checkout failures show in the durations (the endpoints page's error rate).
    checkout = dict(samples)[(DURATION, duration_labels(next(r for r in ROUTES if r.pattern == "/checkout/"), "5xx"))]
    assert len(checkout[0]) > 10
