"""/metrics at scale: running totals folded by the rollup job, one snapshot per scrape, the
exposition written by prometheus_client (text 0.0.4 or OpenMetrics by the Accept header)."""

import gc
import importlib
import threading
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from monitoring import rollups
from monitoring.ingest import metric_kinds, samples_write
from monitoring.models import HourRollup, MetricSample, MetricTotal, MinuteRollup, RollupState
from monitoring.prometheus import StoredMetrics, exposition
from monitoring.rollups import prune_run, rollup_run
from tests.monitoring.conftest import T0, row
from tests.support import on_postgres

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
THRESHOLDS = gc.get_threshold()


def scrape(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    return response


def families(client):
    response = scrape(client)
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def sample(found, family, sample_name=None, **labels):
    matches = [
        s.value
        for s in found[family].samples
        if s.name == (sample_name or s.name) and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matches) == 1, (labels, found[family].samples)
    return matches[0]


def total(found, family, sample_name):
    return sum(s.value for s in found[family].samples if s.name == sample_name)


def jobs(client):
    """jobs_total over its series (two routes)."""
    return total(families(client), "jobs", "jobs_total")


def write(service, name, value, moment, **labels):
    samples_write([row(service, name, value, moment, **labels)])


def raw_total(name="jobs_total"):
    return MetricSample.objects.filter(name=name).aggregate(s=Sum("value"))["s"]


def fill(service, minutes, start=T0, name="jobs_total", every=20):
    rows = [
        row(service, name, 1 + i % 4, start + timedelta(seconds=every * i), route=f"/r{i % 2}")
        for i in range(minutes * 60 // every)
    ]
    samples_write(rows)


@pytest.fixture(autouse=True)
def kinds(db):
    metric_kinds(
        {"jobs_total": "counter", "queue_depth": "gauge", "latency_seconds": "histogram", "jobs_done": "counter"}
    )


def write_during_scan(monkeypatch, *samples):
    """The rollup's raw scan misses `samples`: they commit right after it read its window."""
    real = rollups._minute_rows

    def scan_then_write(start, end):
        rows = real(start, end)
        samples_write(list(samples))
        return rows

    monkeypatch.setattr(rollups, "_minute_rows", scan_then_write)


def test_a_rollup_run_folds_its_minutes_into_the_running_totals(service):
    fill(service, minutes=10)
    for i in range(10):
        write(service, "queue_depth", i, T0 + i * MINUTE)
    done = rollup_run(now=T0 + timedelta(minutes=30))
    state = RollupState.objects.get()
    assert state.totals_until == state.rolled_until == done["end"] == T0 + timedelta(minutes=28)
    totals = {t.labels["route"]: (t.count, t.sum) for t in MetricTotal.objects.filter(name="jobs_total")}
    per_route = MetricSample.objects.filter(name="jobs_total").values("labels__route")
    expected = {r["labels__route"]: (r["c"], r["s"]) for r in per_route.annotate(c=Count("id"), s=Sum("value"))}
    assert totals == expected and len(totals) == 2
    assert not MetricTotal.objects.filter(name="queue_depth").exists()  # a gauge has no total


def test_counters_stay_exact_across_folds_late_samples_and_pruning(client, service, monkeypatch, settings):
    fill(service, minutes=10)
    assert jobs(client) == raw_total()  # nothing rolled up yet: all raw
    rollup_run(now=T0 + timedelta(minutes=5))  # folds [00:00, 00:03)
    assert jobs(client) == raw_total()
    write(service, "jobs_total", 5, T0 + timedelta(minutes=20), route="/r0")  # after the fold
    write(service, "jobs_total", 7, T0 + timedelta(minutes=1, seconds=5), route="/r1")  # late: inside the fold
    assert jobs(client) == raw_total()
    # a sample committing while its minute is being scanned is counted before and after that run
    write_during_scan(monkeypatch, row(service, "jobs_total", 11, T0 + timedelta(minutes=6), route="/r0"))
    rollup_run(now=T0 + timedelta(minutes=30))
    monkeypatch.undo()
    assert RollupState.objects.get().dirty_since == T0 + timedelta(minutes=6)
    assert jobs(client) == raw_total()
    rollup_run(now=T0 + timedelta(minutes=31))
    assert jobs(client) == raw_total()
    assert MetricTotal.objects.aggregate(s=Sum("sum"))["s"] == raw_total()  # every sample is folded once

    settings.METRICS_RAW_RETENTION_DAYS = settings.METRICS_MINUTE_RETENTION_DAYS = 1
    settings.METRICS_HOUR_RETENTION_DAYS = 2
    expected = raw_total()
    prune_run(now=T0 + timedelta(days=10))
    assert not (MetricSample.objects.exists() or HourRollup.objects.exists())
    assert jobs(client) == expected
    write(service, "jobs_total", 2, T0 + timedelta(days=10), route="/r0")
    assert jobs(client) == expected + 2
    rollup_run(now=T0 + timedelta(days=10, minutes=30))
    assert jobs(client) == expected + 2


def test_minute_rollups_outlive_the_raw_retention_so_a_late_sample_counts_once(client, service, settings):
    settings.METRICS_RAW_RETENTION_DAYS = 5
    settings.METRICS_MINUTE_RETENTION_DAYS = 1
    settings.METRICS_ROLLUP_MAX_MINUTES = 100_000
    fill(service, minutes=60)
    now = T0 + timedelta(days=3)
    rollup_run(now=now)
    prune_run(now=now)
    assert MinuteRollup.objects.filter(start=T0).exists()  # its raw samples are still there too
    write(service, "jobs_total", 9, T0 + timedelta(minutes=10), route="/r0")  # 3 days late: accepted
    assert jobs(client) == raw_total()
    rollup_run(now=now + MINUTE)
    assert jobs(client) == raw_total()


def test_a_rerun_of_a_folded_window_adds_nothing(client, service):
    fill(service, minutes=90)
    rollup_run(now=T0 + timedelta(hours=3))
    before = sorted(MetricTotal.objects.values_list("labels_hash", "count", "sum"))
    RollupState.objects.update(rolled_until=None)  # the next run redoes the whole window
    rollup_run(now=T0 + timedelta(hours=3))
    assert sorted(MetricTotal.objects.values_list("labels_hash", "count", "sum")) == before
    assert jobs(client) == raw_total()


def test_a_rollup_that_lost_its_window_folds_nothing(service, monkeypatch):
    fill(service, minutes=10)
    real = rollups._minute_rows

    def slow_scan(start, end):
        rows = real(start, end)
        RollupState.objects.filter(key="minute").update(rolled_until=end)  # another worker finished it
        return rows

    monkeypatch.setattr(rollups, "_minute_rows", slow_scan)
    assert rollup_run(now=T0 + timedelta(minutes=30))["raced"] is True
    assert not MetricTotal.objects.exists()


def test_histogram_totals_are_folded_and_the_summary_keeps_its_content(client, service, monkeypatch):
    now = T0 + timedelta(hours=2)
    for i in range(40):
        write(service, "latency_seconds", (i % 10) / 10, now - timedelta(minutes=100) + timedelta(seconds=150 * i))
    rollup_run(now=now)
    for v in (0.1, 0.2, 0.3):
        write(service, "latency_seconds", v, now - timedelta(seconds=30))
    monkeypatch.setattr(timezone, "now", lambda: now)  # the quantile lookback ends at the scrape's clock
    found = families(client)
    summary = found["latency_seconds"]
    assert summary.type == "summary"
    assert sample(found, "latency_seconds", "latency_seconds_count") == 43
    assert sample(found, "latency_seconds", "latency_seconds_sum") == pytest.approx(18.0 + 0.6)
    assert sample(found, "latency_seconds", "latency_seconds", quantile="0.5") == pytest.approx(0.6, rel=0.02)
    assert MetricTotal.objects.get(name="latency_seconds").count == 40


def test_a_scrape_reads_no_hour_rollups_and_its_queries_do_not_grow_with_the_hours(
    client, service, settings, django_assert_max_num_queries
):
    settings.METRICS_ROLLUP_MAX_MINUTES = 100_000
    counts = []
    for hours in (2, 48, 400):
        fill(service, minutes=hours * 60, every=600)
        for i in range(0, hours * 60, 30):
            write(service, "latency_seconds", i % 7, T0 + i * MINUTE)
        rollup_run(now=T0 + timedelta(hours=hours, minutes=5))
        assert HourRollup.objects.filter(name="jobs_total").count() == 2 * hours
        with CaptureQueriesContext(connection) as queries:
            assert jobs(client) == raw_total()
        assert not [q["sql"] for q in queries if HourRollup._meta.db_table in q["sql"]]
        counts.append(len(queries))
        with django_assert_max_num_queries(counts[0]):
            families(client)
        MetricSample.objects.all().delete()
        MinuteRollup.objects.all().delete()
        HourRollup.objects.all().delete()
        MetricTotal.objects.all().delete()
        RollupState.objects.all().delete()
    assert counts[0] == counts[1] == counts[2]


def test_openmetrics_when_the_scraper_asks_for_it(client, service):
    fill(service, minutes=3, start=T0)
    write(service, "jobs_done", 4, T0)
    write(service, "queue_depth", 3, T0)
    response = scrape(client, HTTP_ACCEPT="application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = response.content.decode()
    assert text.endswith("# EOF\n")
    found = {f.name: f for f in openmetrics_families(text)}
    r0 = MetricSample.objects.filter(name="jobs_total", labels__route="/r0").aggregate(s=Sum("value"))["s"]
    assert found["jobs"].type == "counter" and sample(found, "jobs", route="/r0") == r0
    # a counter's sample ends in _total whatever its stored name (OpenMetrics requires it)
    assert sample(found, "jobs_done", "jobs_done_total") == 4


@pytest.mark.parametrize("accept", [None, "text/plain", "*/*", "text/plain;version=0.0.4", "application/json"])
def test_the_text_format_otherwise(client, service, accept):
    write(service, "jobs_total", 3, T0)
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = scrape(client, **headers)
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# EOF" not in response.content.decode()
    assert jobs(client) == 3


def test_names_that_would_collide_are_exposed_once(client, service):
    metric_kinds({"orders": "counter", "orders_total": "counter"})
    write(service, "orders", 1, T0)
    write(service, "orders_total", 2, T0)
    response = scrape(client)
    found = list(text_string_to_metric_families(response.content.decode()))
    assert [f.name for f in found].count("orders") == 1  # Prometheus refuses a scrape with a family twice
    assert len([s for f in found if f.name == "orders" for s in f.samples]) == 1


def test_the_migration_folds_what_older_versions_rolled_up(client, service, settings):
    settings.METRICS_ROLLUP_MAX_MINUTES = 10_000
    fill(service, minutes=150)
    write(service, "queue_depth", 4, T0)
    rollup_run(now=T0 + timedelta(hours=2, minutes=10))
    write(service, "jobs_total", 7, T0 + timedelta(minutes=30), route="/r0")  # late: the state is dirty
    expected = raw_total() + 100
    # As an older version left it: rollups, nothing folded but what pruning folded (100 more, whose
    # rollups and samples are gone), no totals_until.
    MetricTotal.objects.all().delete()
    MetricTotal.objects.create(
        service=service,
        name="jobs_total",
        labels={"route": "/r0"},
        labels_hash=MetricSample.objects.filter(labels__route="/r0").values_list("labels_hash", flat=True)[0],
        count=50,
        sum=100,
        until=T0,
    )
    RollupState.objects.update(totals_until=None)
    migration = importlib.import_module("monitoring.migrations.0005_rollup_totals_until")
    migration.totals_fold_existing(apps, None)
    state = RollupState.objects.get()
    assert state.totals_until == state.rolled_until
    assert jobs(client) == expected
    assert not MetricTotal.objects.filter(name="queue_depth").exists()
    rollup_run(now=T0 + timedelta(hours=2, minutes=40))  # redoes the dirty minutes, folds the rest
    assert jobs(client) == expected
    assert MetricTotal.objects.aggregate(s=Sum("sum"))["s"] == expected


@pytest.mark.django_db(transaction=True)
def test_a_prune_and_a_rollup_committing_during_a_scrape_change_nothing_it_returns(client, service, settings):
    if not on_postgres():
        pytest.skip("PostgreSQL's concurrent writers; SQLite's test database is one shared in-memory file")
    metric_kinds({"jobs_total": "counter"})
    settings.METRICS_ROLLUP_MAX_MINUTES = 10_000
    fill(service, minutes=180)
    rollup_run(now=T0 + timedelta(hours=2))
    expected = raw_total()
    settings.METRICS_RAW_RETENTION_DAYS = settings.METRICS_MINUTE_RETENTION_DAYS = 1
    settings.METRICS_HOUR_RETENTION_DAYS = 1
    fired = []

    def others():
        try:
            prune_run(now=T0 + timedelta(days=3))
            rollup_run(now=T0 + timedelta(hours=3, minutes=10))
        finally:
            connection.close()

    def in_between(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if MetricTotal._meta.db_table in sql and not fired:
            fired.append(sql)
            thread = threading.Thread(target=others)
            thread.start()
            thread.join(30)
        return result

    with connection.execute_wrapper(in_between):
        found = families(client)
    assert fired and not HourRollup.objects.filter(start=T0).exists()  # pruned while the scrape read
    assert total(found, "jobs", "jobs_total") == expected
    assert jobs(client) == expected


@pytest.mark.parametrize(
    "in_transaction",
    [True, pytest.param(False, marks=pytest.mark.django_db(transaction=True))],  # autocommit, as served
)
def test_huge_rows_from_before_the_value_bound_never_break_a_scrape(client, service, in_transaction):
    # Two samples of 1e308 (stored before values were bounded): PostgreSQL's float SUM raises on
    # the overflow, so their total is summed as numeric there; it is +Inf either way.
    metric_kinds({"big_total": "counter", "big_seconds": "histogram"})
    for name in ("big_total", "big_seconds"):
        write(service, name, 1e308, T0)
        write(service, name, 1e308, T0 + MINUTE)
    found = families(client)
    assert sample(found, "big", "big_total") == float("inf")
    assert sample(found, "big_seconds", "big_seconds_sum") == float("inf")
    assert sample(found, "big_seconds", "big_seconds_count") == 2
    rollup_run(now=T0 + timedelta(minutes=30))  # the fold saturates instead
    assert sample(families(client), "big", "big_total") == 1.7976931348623157e308


def _written_history_total(service, name):
    """What the demo wrote for `name`: complete hours before its boundary, minute rollups from
    the boundary's hour to it, raw samples after."""
    boundary = RollupState.objects.get().rolled_until
    hour = boundary.replace(minute=0)
    hours = HourRollup.objects.filter(service=service, name=name).aggregate(s=Sum("sum"))["s"] or 0
    minutes = MinuteRollup.objects.filter(service=service, name=name, start__gte=hour, start__lt=boundary)
    raw = MetricSample.objects.filter(service=service, name=name)
    return hours + (minutes.aggregate(s=Sum("sum"))["s"] or 0) + (raw.aggregate(s=Sum("value"))["s"] or 0)


@pytest.mark.parametrize("rolled_before", [False, True])
def test_history_written_straight_into_the_rollup_tables_is_in_the_totals(client, service, rolled_before):
    import numpy as np

    from portal.demo.metrics import history_write
    from portal.demo.traffic import REQUESTS, Scenario

    now = timezone.now()
    if rolled_before:  # a portal whose rollups are current: the demo goes through the late-sample path
        fill(service, minutes=5, start=now - timedelta(minutes=10))
        rollup_run(now=now)
    shop = service.__class__.objects.create(name="Shop", slug="shop")
    with transaction.atomic():
        history_write(service=shop, now=now, scenario=Scenario.around(now), rng=np.random.default_rng(3))
    expected = _written_history_total(shop, REQUESTS)
    found = families(client)
    scraped = sum(s.value for s in found["http_requests"].samples if s.labels["service"] == "shop")
    assert scraped == pytest.approx(expected, rel=1e-12) and expected > 0
    while rollup_run(now=now + timedelta(minutes=3))["minutes"]:
        pass
    found = families(client)
    assert sum(s.value for s in found["http_requests"].samples if s.labels["service"] == "shop") == pytest.approx(
        expected, rel=1e-12
    )


def test_the_cyclic_collector_does_not_run_while_a_scrape_is_built(client, service, monkeypatch):
    fill(service, minutes=30, every=2)  # a few thousand rows to read and format
    for i in range(200):
        write(service, "queue_depth", i, T0 + timedelta(minutes=30, seconds=i % 60), shard=str(i))
    collections, building = [], []
    real = StoredMetrics.collect

    def collect(self):  # from the first query to the writer's last family
        building.append(True)
        yield from real(self)
        building.clear()

    def started(phase, info):
        if phase == "start" and building:
            collections.append(info["generation"])

    monkeypatch.setattr(StoredMetrics, "collect", collect)
    gc.callbacks.append(started)
    try:
        gc.set_threshold(10)  # would collect every 10 allocations
        body, _ = exposition(now=T0 + timedelta(minutes=31))
    finally:
        gc.set_threshold(*THRESHOLDS)
        gc.callbacks.remove(started)
    assert b"queue_depth" in body
    assert collections == []
    assert gc.isenabled()
