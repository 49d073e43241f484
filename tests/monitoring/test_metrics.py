import asyncio
import math
import threading
import time
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from monitoring.flusher import Flusher
from monitoring.labels import MetricError
from monitoring.metrics import Counter, Gauge, Histogram, Registry, Timer, counter, gauge
from monitoring.models import Metric, MetricSample
from monitoring.query import WindowAggregate, minute_buckets
from tests.support import manage, separate_database


@pytest.fixture
def registry():
    return Registry(buffer_limit=1_000_000, flush_size=10_000)


@pytest.fixture
def flusher(registry, service):
    return Flusher(registry, interval=3600, service_id=service.pk)


def stored(name):
    return list(MetricSample.objects.filter(name=name).values_list("value", flat=True))


def test_counter_is_monotonic_and_flushes_increments(registry, flusher):
    c = Counter("jobs_total", "Jobs", labelnames=("queue",), registry=registry)
    c.inc(queue="a")
    c.labels(queue="a").inc(2)
    c.inc(5, queue="b")
    with pytest.raises(MetricError, match="only goes up"):
        c.inc(-1, queue="a")
    assert flusher.flush() == 2
    assert sorted(stored("jobs_total")) == [3.0, 5.0]
    c.inc(queue="a")
    flusher.flush()
    assert sorted(stored("jobs_total")) == [1.0, 3.0, 5.0]  # increments: the sum is the total
    assert Metric.objects.get(name="jobs_total").kind == "counter"


def test_gauge_set_inc_dec(registry, flusher):
    g = Gauge("queue_depth", registry=registry)
    g.set(10)
    g.inc(5)
    g.dec(3)
    assert g.value() == 12
    flusher.flush()
    flusher.flush()  # a gauge is written at every flush, like a scrape
    assert stored("queue_depth") == [12.0, 12.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "3", None, True])
def test_non_finite_and_non_numbers_are_refused_at_the_call_site(registry, bad):
    h = Histogram("latency_seconds", registry=registry)
    with pytest.raises(MetricError, match="value"):
        h.observe(bad)
    assert len(registry.observations) == 0


def test_invalid_names_and_labels_are_refused(registry):
    with pytest.raises(MetricError, match="name"):
        Counter("bad-name", registry=registry)
    with pytest.raises(MetricError, match="labels"):
        Counter("ok_total", labelnames=("bad-label",), registry=registry)
    c = Counter("ok_total", labelnames=("route",), registry=registry)
    with pytest.raises(MetricError, match="takes labels"):
        c.inc(method="GET")
    with pytest.raises(MetricError, match="labels"):
        c.inc(route=5)
    assert counter("clash", registry=registry) is counter("clash", registry=registry)
    with pytest.raises(MetricError, match="already registered"):
        gauge("clash", registry=registry)


def test_histogram_quantiles_match_numpy_within_sketch_error(registry, flusher):
    h = Histogram("payload_bytes", registry=registry)
    values = np.random.default_rng(7).lognormal(mean=6, sigma=1.2, size=5000)
    for v in values:
        h.observe(float(v))
    flusher.flush()
    now = timezone.now()
    found = minute_buckets(names=["payload_bytes"], since=now - timedelta(minutes=5), until=now + timedelta(minutes=1))
    agg = WindowAggregate.merge(next(iter(found.values())))
    assert agg.value("count") == 5000
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert agg.value(name) == pytest.approx(np.percentile(values, q), rel=0.02)


def test_timer_as_context_manager_decorator_and_async(registry, flusher):
    t = Timer("work_seconds", labelnames=("step",), registry=registry)
    with t.time(step="ctx"):
        sum(range(1000))

    @t.time(step="sync")
    def work():
        return 42

    @t.time(step="async")
    async def awork():
        await asyncio.sleep(0)
        return 43

    assert work() == 42
    assert asyncio.run(awork()) == 43
    flusher.flush()
    rows = MetricSample.objects.filter(name="work_seconds")
    assert sorted(r.labels["step"] for r in rows) == ["async", "ctx", "sync"]
    assert all(0 <= r.value < 1 for r in rows)


def test_a_timing_kept_and_entered_later_times_only_its_block(registry):
    t = Timer("kept_seconds", registry=registry)
    timing = t.time()  # e.g. made once at import time, entered per request
    time.sleep(0.2)
    for _ in range(2):
        with timing:
            pass
    _, _, observations, _ = registry.take()
    assert [round(v, 1) for _, v, _ in observations] == [0.0, 0.0]


@pytest.mark.django_db(transaction=True)  # a second thread writes through its own connection
def test_flusher_under_several_threads_loses_and_duplicates_nothing(registry, flusher):
    c = Counter("hits_total", registry=registry)
    h = Histogram("sizes", labelnames=("worker",), registry=registry)
    per_thread, threads = 3000, 6
    stop = threading.Event()

    def record(worker):
        bound = h.labels(worker=str(worker))
        for i in range(per_thread):
            c.inc()
            bound.observe(i)

    def keep_flushing():
        while not stop.is_set():
            flusher.flush()
        connection.close()

    background = threading.Thread(target=keep_flushing)
    background.start()
    workers = [threading.Thread(target=record, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    background.join()
    flusher.flush()
    assert sum(stored("hits_total")) == per_thread * threads
    sizes = MetricSample.objects.filter(name="sizes")
    assert sizes.count() == per_thread * threads
    for worker in range(threads):
        assert sorted(sizes.filter(labels__worker=str(worker)).values_list("value", flat=True)) == list(
            map(float, range(per_thread))
        )


def test_a_failed_flush_keeps_the_data_for_the_next_one(registry, flusher, monkeypatch):
    c = Counter("retry_total", registry=registry)
    h = Histogram("retry_sizes", registry=registry)
    c.inc(3)
    c.inc()  # the lock-free path
    h.observe(1.5)

    def broken(rows):
        raise RuntimeError("database is down")

    monkeypatch.setattr("monitoring.flusher.samples_write", broken)
    assert flusher.flush() == 0
    monkeypatch.undo()
    c.inc(1)
    assert flusher.flush() == 2
    assert stored("retry_total") == [5.0]
    assert stored("retry_sizes") == [1.5]


def test_a_full_buffer_drops_and_counts(service):
    registry = Registry(buffer_limit=3, flush_size=100)
    h = Histogram("tiny", registry=registry)
    for i in range(5):
        h.observe(i)
    assert len(registry.observations) == 3 and registry.dropped == 2
    Flusher(registry, interval=60, service_id=service.pk).flush()
    assert stored("portal_metrics_dropped_total") == [2.0]


def test_a_failed_flush_keeps_the_drop_count_too(service, monkeypatch):
    registry = Registry(buffer_limit=2, flush_size=100)
    flusher = Flusher(registry, interval=60, service_id=service.pk)
    h = Histogram("tiny_retry", registry=registry)
    for i in range(3):
        h.observe(i)
    monkeypatch.setattr("monitoring.flusher.samples_write", lambda rows: 1 / 0)
    assert flusher.flush() == 0
    monkeypatch.undo()
    flusher.flush()
    assert stored("tiny_retry") == [0.0, 1.0]
    assert stored("portal_metrics_dropped_total") == [1.0]


@pytest.mark.slow
def test_nothing_recorded_before_a_clean_exit_is_lost(tmp_path):
    script = (
        "from monitoring.metrics import counter, histogram\n"
        "c = counter('exit_total')\n"
        "h = histogram('exit_sizes')\n"
        "for i in range(250):\n"
        "    c.inc(); h.observe(i)\n"
    )
    check = (
        "from django.db.models import Sum\n"
        "from monitoring.models import MetricSample as S\n"
        "print(S.objects.filter(name='exit_total').aggregate(s=Sum('value'))['s'],"
        " S.objects.filter(name='exit_sizes').count())"
    )
    with separate_database(tmp_path) as env:
        env = {**env, "METRICS_FLUSH_INTERVAL_SECONDS": "3600"}  # only the exit flush can write
        result = manage("shell", "-c", script, env=env)
        assert result.returncode == 0, result.stderr
        result = manage("shell", "-c", check, env=env)
    assert result.stdout.strip().splitlines()[-1].split() == ["250.0", "250"], result.stderr


def test_timer_quantiles_match_numpy_within_sketch_error(registry, flusher):
    t = Timer("db_query_seconds", registry=registry)
    durations = np.random.default_rng(11).gamma(shape=2.0, scale=0.01, size=3000)
    for d in durations:
        t.observe(float(d))
    flusher.flush()
    now = timezone.now()
    found = minute_buckets(
        names=["db_query_seconds"], since=now - timedelta(minutes=5), until=now + timedelta(minutes=1)
    )
    agg = WindowAggregate.merge(next(iter(found.values())))
    assert Metric.objects.get(name="db_query_seconds").kind == "timer"
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert agg.value(name) == pytest.approx(np.percentile(durations, q), rel=0.02)


@pytest.mark.django_db(transaction=True)  # the flusher thread writes through its own connection
def test_the_flusher_thread_writes_by_size_and_by_interval(service):
    registry = Registry(buffer_limit=10_000, flush_size=50)
    flusher = Flusher(registry, interval=3600, service_id=service.pk)
    h = Histogram("thread_sizes", registry=registry)
    flusher.start()
    try:
        for i in range(50):  # reaching flush_size wakes the thread long before the interval
            h.observe(i)
        # Poll the flusher's own tally, not the table: a read while the thread writes makes the
        # in-memory SQLite test database refuse the write (shared-cache table locks never wait).
        deadline = time.monotonic() + 10
        while flusher.flushed < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert MetricSample.objects.filter(name="thread_sizes").count() == 50
        flusher.interval = 0.1
        flusher._wake.set()  # let the loop pick up the short interval
        h.observe(99)
        deadline = time.monotonic() + 10
        while flusher.flushed < 51 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert MetricSample.objects.filter(name="thread_sizes").count() == 51
    finally:
        flusher.stop()
        connection.close()
