"""Hour rollups folded a window at a time equal hour rollups rebuilt from all their minutes."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring import rollups
from monitoring.ingest import samples_write
from monitoring.models import HourRollup, MetricTotal, MinuteRollup, RollupState
from monitoring.rollups import rollup_run, time_ordered_sum
from tests.monitoring.conftest import T0, row

pytestmark = pytest.mark.django_db
ROUTES = ("/a", "/b", "/c")


def snapshot():
    hours = sorted(
        (r.service_id, r.name, r.labels_hash, r.start, r.count, r.sum, r.min, r.max, r.last, bytes(r.sketch))
        for r in HourRollup.objects.all()
    )
    minutes = sorted(
        (r.service_id, r.name, r.labels_hash, r.start, r.count, r.sum, bytes(r.sketch))
        for r in MinuteRollup.objects.all()
    )
    totals = sorted(MetricTotal.objects.values_list("service_id", "name", "labels_hash", "count", "sum"))
    return hours, minutes, totals


def random_samples(service, rng: random.Random) -> list[tuple]:
    """(arrival, sample row): fractional values of mixed sign and size over ~2.5 hours that start
    mid-hour; most arrive within the rollup delay, a few minutes or an hour late."""
    begin = T0 + timedelta(minutes=rng.randrange(60))
    out = []
    for _ in range(rng.randrange(150, 400)):
        at = begin + timedelta(seconds=rng.uniform(0, 150 * 60))
        value = rng.choice([rng.uniform(-1e6, 1e6), rng.random() / 3, rng.randrange(100), 1e15 * rng.random()])
        delay = rng.choice([0, rng.uniform(0, 110), rng.uniform(0, 110), rng.uniform(200, 900), 3600])
        out.append((at + timedelta(seconds=delay), row(service, "latency", value, at, route=rng.choice(ROUTES))))
    return sorted(out, key=lambda pair: pair[0])


@pytest.mark.parametrize("seed", range(6))
def test_folded_hours_equal_a_full_rebuild(service, settings, monkeypatch, seed):
    rng = random.Random(seed)
    settings.METRICS_ROLLUP_MAX_MINUTES = rng.choice([1, 3, 17, 240])
    folds = []
    real = rollups._hour_rows_folded
    monkeypatch.setattr(rollups, "_hour_rows_folded", lambda *a: folds.append(1) or real(*a))
    pending = random_samples(service, rng)
    now = T0
    while pending or now < T0 + timedelta(hours=5):
        now += timedelta(seconds=rng.choice([60, 60, 60, 150, 420]))
        arrived = [sample for at, sample in pending if at <= now]
        pending = [(at, sample) for at, sample in pending if at > now]
        samples_write(arrived)
        rollup_run(now=now)
    while rollup_run(now=now)["minutes"]:
        pass
    assert folds, "the ordinary runs fold"
    incremental = snapshot()
    # A full rebuild: from the first raw sample, every hour from all its minute rollups.
    RollupState.objects.update(rolled_until=None)
    settings.METRICS_ROLLUP_MAX_MINUTES = 10_080
    folds.clear()
    assert rollup_run(now=now)["minutes"] > 60
    assert not folds
    assert snapshot() == incremental


def test_the_hour_sum_is_added_in_time_order():
    parts = [0.1, 1e16, 0.3, -1e16]
    folded = time_ordered_sum(parts[:2])
    assert time_ordered_sum([folded, *parts[2:]]) == time_ordered_sum(parts)
    assert time_ordered_sum([]) == 0.0


def test_a_rerun_after_folding_changes_nothing(service):
    samples_write([row(service, "latency", i / 7, T0 + timedelta(seconds=20 * i), route="/a") for i in range(90)])
    for minute in range(3, 34):
        rollup_run(now=T0 + timedelta(minutes=minute))
    before = snapshot()
    assert rollup_run(now=T0 + timedelta(minutes=33)) == {"minutes": 0, "rows": 0}
    assert snapshot() == before


def test_a_run_that_failed_while_folding_is_redone_the_same(service, monkeypatch):
    samples_write([row(service, "latency", i / 3, T0 + timedelta(seconds=20 * i), route="/a") for i in range(120)])
    for minute in range(3, 20):
        rollup_run(now=T0 + timedelta(minutes=minute))
    expected_from = snapshot()

    def broken(**kwargs):
        raise RuntimeError("database went away")

    real = rollups.totals_fold
    monkeypatch.setattr(rollups, "totals_fold", broken)
    with pytest.raises(RuntimeError):
        rollup_run(now=T0 + timedelta(minutes=20))
    assert snapshot() == expected_from  # nothing of the failed run stayed
    monkeypatch.setattr(rollups, "totals_fold", real)
    rollup_run(now=T0 + timedelta(minutes=20))
    rollup_run(now=T0 + timedelta(minutes=41))
    once = snapshot()
    RollupState.objects.update(rolled_until=None)
    rollup_run(now=T0 + timedelta(minutes=41))
    assert snapshot() == once
    assert HourRollup.objects.get().count == 39 * 3


def test_a_runs_queries_and_rows_read_do_not_grow_with_the_hours_age(service, django_assert_max_num_queries):
    def minute(index):
        at = T0 + timedelta(minutes=index, seconds=30)
        samples_write([row(service, "latency", index, at, route=route) for route in ROUTES])
        samples_write([row(service, "requests", 1, at, route=route) for route in ROUTES])

    for index in range(3):
        minute(index)
    rollup_run(now=T0 + timedelta(minutes=3))  # the first run rebuilds
    minute(3)
    with CaptureQueriesContext(connection) as early:
        assert rollup_run(now=T0 + timedelta(minutes=4))["minutes"] == 1
    for index in range(4, 57):
        minute(index)
        rollup_run(now=T0 + timedelta(minutes=index + 1))
    minute(57)
    with django_assert_max_num_queries(len(early)) as late:
        assert rollup_run(now=T0 + timedelta(minutes=58))["minutes"] == 1
    # No statement of the late run reads the hour's minute rollups.
    minute_table = MinuteRollup._meta.db_table
    assert not [q for q in late.captured_queries if q["sql"].startswith("SELECT") and minute_table in q["sql"]]
    assert HourRollup.objects.filter(name="latency").first().count == 56
