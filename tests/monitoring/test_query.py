import json
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring import query
from monitoring.models import MinuteRollup
from monitoring.query import Bucket, WindowAggregate, minute_buckets, series_list, series_query
from monitoring.rollups import rollup_run
from monitoring.sketches import sketch_of
from tests.monitoring.conftest import T0


def test_minute_buckets_groups_by_series_and_minute_from_raw(put, service, other_service):
    put(service, "latency", 1, T0, route="/a")
    put(service, "latency", 3, T0 + timedelta(seconds=30), route="/a")
    put(service, "latency", 5, T0 + timedelta(minutes=1), route="/a")
    put(other_service, "latency", 7, T0, route="/a")
    put(service, "other", 9, T0)
    found = minute_buckets(names=["latency"], since=T0, until=T0 + timedelta(minutes=5))
    key = ("latency", (("route", "/a"), ("service", "checkout")))
    assert set(found) == {key, ("latency", (("route", "/a"), ("service", "billing")))}
    first, second = found[key]
    assert (first.start, first.count, first.sum, first.min, first.max, first.last) == (T0, 2, 4.0, 1.0, 3.0, 3.0)
    assert second.start == T0 + timedelta(minutes=1) and second.count == 1


def test_minute_buckets_is_the_same_from_rollups_and_raw(put, service):
    for i in range(120):
        put(service, "latency", i, T0 + timedelta(seconds=i), route="/a")
    until = T0 + timedelta(minutes=2)
    from_raw = minute_buckets(names=["latency"], since=T0, until=until)
    rollup_run(now=T0 + timedelta(minutes=10))
    assert query.rollup_watermark() is not None
    from_rollups = minute_buckets(names=["latency"], since=T0, until=until)
    assert from_raw.keys() == from_rollups.keys()
    for key, buckets in from_raw.items():
        for a, b in zip(buckets, from_rollups[key], strict=True):
            assert (a.start, a.count, a.sum, a.min, a.max, a.last) == (b.start, b.count, b.sum, b.min, b.max, b.last)
            assert a.sketch.get_quantile_value(0.9) == pytest.approx(b.sketch.get_quantile_value(0.9))


def test_minute_buckets_uses_a_fixed_number_of_queries(put, service, django_assert_max_num_queries):
    for i in range(50):
        put(service, "latency", i, T0 + timedelta(seconds=i * 7), route=f"/r{i % 10}")
    rollup_run(now=T0 + timedelta(minutes=4))
    for i in range(50):
        put(service, "latency", i, T0 + timedelta(minutes=5, seconds=i), route=f"/r{i % 10}")
    with django_assert_max_num_queries(3):
        found = minute_buckets(names=["latency"], since=T0, until=T0 + timedelta(minutes=10))
    assert len(found) == 10


def test_window_aggregate_values():
    values = list(range(1, 101))
    buckets = [
        Bucket(T0, 50, sum(values[:50]), 1, 50, 50, sketch_of(values[:50])),
        Bucket(T0 + timedelta(minutes=1), 50, sum(values[50:]), 51, 100, 100, sketch_of(values[50:])),
    ]
    agg = WindowAggregate.merge(buckets, window_seconds=120)
    assert agg.value("count") == 100
    assert agg.value("sum") == 5050
    assert agg.value("avg") == 50.5
    assert agg.value("min") == 1 and agg.value("max") == 100
    assert agg.value("rate") == pytest.approx(5050 / 120)
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert agg.value(name) == pytest.approx(np.percentile(values, q), rel=0.02)
    assert WindowAggregate.merge([]).value("avg") is None
    assert WindowAggregate.merge(buckets).window_seconds == 120
    with pytest.raises(ValueError, match="unknown aggregation"):
        agg.value("median")


def test_series_query_fills_every_step_and_filters_labels(put, service):
    put(service, "system_cpu_percent", 10, T0, cpu="total")
    put(service, "system_cpu_percent", 30, T0 + timedelta(seconds=10), cpu="total")
    put(service, "system_cpu_percent", 99, T0, cpu="0")
    series = series_query(name="system_cpu_percent", since=T0, until=T0 + timedelta(minutes=3), labels={"cpu": "total"})
    assert len(series) == 1
    assert series[0].label_dict == {"cpu": "total", "service": "checkout"}
    assert [value for _, value in series[0].points] == [20.0, None, None]


def test_series_query_reads_hour_rollups_for_whole_hour_steps(put, service, django_assert_max_num_queries):
    for hour in range(5):
        for minute in range(0, 60, 10):
            put(service, "load", hour, T0 + timedelta(hours=hour, minutes=minute))
    rollup_run(now=T0 + timedelta(hours=5, minutes=5))
    with django_assert_max_num_queries(4):
        series = series_query(name="load", since=T0, until=T0 + timedelta(hours=5), step=3600, agg="count")
    assert [value for _, value in series[0].points] == [6, 6, 6, 6, 6]


def test_series_query_refuses_bad_step_and_aggregation():
    with pytest.raises(ValueError, match="step"):
        series_query(name="x", since=T0, until=T0 + timedelta(hours=1), step=30)
    with pytest.raises(ValueError, match="agg"):
        series_query(name="x", since=T0, until=T0 + timedelta(hours=1), agg="mean")


def test_window_aggregates_over_days_matches_exact_percentiles(put, service, django_assert_max_num_queries):
    from monitoring.ingest import samples_write
    from monitoring.query import window_aggregates
    from tests.monitoring.conftest import row

    rng = np.random.default_rng(3)
    values = rng.lognormal(3, 0.8, size=3000)
    rows = [row(service, "latency", v, T0 + timedelta(minutes=3 * i), route="/a") for i, v in enumerate(values)]
    samples_write(rows)
    rollup_run(now=T0 + timedelta(days=8))
    until = T0 + timedelta(minutes=3 * 3000)
    with django_assert_max_num_queries(5):
        found = window_aggregates(name="latency", since=T0, until=until, labels={"route": "/a"})
    (agg,) = found.values()
    assert agg.value("count") == 3000
    assert agg.value("p95") == pytest.approx(np.percentile(values, 95), rel=0.01)
    assert agg.value("avg") == pytest.approx(values.mean())


def test_each_distinct_label_set_is_decoded_once_per_query(put, service, monkeypatch):
    # 7 days of 60 series is ~10k hour rollups: decoding the same labels on every row was half the time.
    for minute in range(90):
        put(service, "latency", minute, T0 + timedelta(minutes=minute), route="/a")
        put(service, "latency", minute, T0 + timedelta(minutes=minute), route="/b")
    rollup_run(now=T0 + timedelta(minutes=60, seconds=30))
    decoded = []
    loads = json.loads
    monkeypatch.setattr(json, "loads", lambda raw, **kw: decoded.append(raw) or loads(raw, **kw))
    series = series_query(name="latency", since=T0, until=T0 + timedelta(minutes=90), agg="count")
    assert [s.label_dict["route"] for s in series] == ["/a", "/b"]
    assert [sum(v for _, v in s.points if v) for s in series] == [90, 90]
    assert len(decoded) == 2  # minute rollups and raw samples share the decoded label sets


def test_series_list_reads_hour_rollups_for_whole_hours(put, service, django_assert_max_num_queries):
    # A week is ~600k minute rollups at 60 series but 10k hour rollups; and minute rollups older
    # than their retention are gone while the hours still hold the label sets.
    put(service, "latency", 1, T0 + timedelta(minutes=10), route="/early")  # before `since`, same hour
    put(service, "latency", 1, T0 + timedelta(minutes=40), route="/edge")
    put(service, "latency", 1, T0 + timedelta(hours=1, minutes=10), route="/old")
    put(service, "latency", 1, T0 + timedelta(hours=3, minutes=20), route="/recent")
    rollup_run(now=T0 + timedelta(hours=3, minutes=40))
    put(service, "latency", 1, T0 + timedelta(hours=3, minutes=50), route="/raw")
    MinuteRollup.objects.filter(start__gte=T0 + timedelta(hours=1), start__lt=T0 + timedelta(hours=3)).delete()
    with django_assert_max_num_queries(4):
        found = series_list(name="latency", since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=4))
    assert [dict(key)["route"] for key in found] == ["/edge", "/old", "/raw", "/recent"]


@pytest.mark.parametrize("step", [60, 600, 3600, 7200])
def test_series_query_points_are_each_steps_merged_buckets(put, service, other_service, step):
    # Quantile points are answered for all points at once from the stored sketches, and points of
    # one bucket skip the general merge: the numbers must stay those of merging each step's buckets.
    rng = np.random.default_rng(step)
    for i in range(400):
        moment = T0 + timedelta(seconds=int(rng.integers(0, 3 * 3600 + 1500)))
        put(service if i % 3 else other_service, "latency", float(rng.lognormal(-2, 1)), moment, route=f"/r{i % 2}")
    put(service, "latency", -3.0, T0 + timedelta(minutes=5), route="/r0")  # a negative and a zero
    put(service, "latency", 0.0, T0 + timedelta(minutes=6), route="/r0")
    rollup_run(now=T0 + timedelta(hours=3, minutes=10))  # hours 0-2 and 3:00-3:08 rolled up, the rest raw
    since, until = T0 + timedelta(minutes=7), T0 + timedelta(hours=3, minutes=25)
    first = query.step_start(since, step)
    found = query.collect_buckets(names=["latency"], since=first, until=until, hours=step % 3600 == 0)
    for agg in ("p50", "p95", "p99", "avg", "sum", "count", "min", "max", "last", "rate"):
        series = series_query(name="latency", since=since, until=until, step=step, agg=agg)
        assert len(series) == 4
        for s in series:
            steps = {}
            for bucket in found[("latency", s.labels)]:
                steps.setdefault(query.step_start(bucket.start, step), []).append(bucket)
            expected = [
                (t, WindowAggregate.merge(steps.get(t, []), window_seconds=step).value(agg)) for t, _ in s.points
            ]
            assert s.points == expected
            assert any(v is not None for _, v in s.points)


def test_series_query_reads_sketches_only_for_quantiles(put, service):
    for minute in range(0, 180, 7):
        put(service, "latency", minute, T0 + timedelta(minutes=minute))
    rollup_run(now=T0 + timedelta(hours=3))
    for agg, reads_sketches in (("avg", False), ("max", False), ("p95", True)):
        with CaptureQueriesContext(connection) as captured:
            series_query(name="latency", since=T0, until=T0 + timedelta(hours=3), step=3600, agg=agg)
        rollup_reads = [q["sql"] for q in captured.captured_queries if 'rollup" ' in q["sql"]]  # hour, minute
        assert rollup_reads and all(('"sketch"' in sql) == reads_sketches for sql in rollup_reads), agg
