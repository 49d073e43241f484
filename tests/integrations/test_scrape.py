"""Scraping: a real prometheus_client registry served over HTTP, mapped to stored samples."""

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from werkzeug import Response

from monitoring.integrations.models import ScrapeTarget
from monitoring.integrations.scrape import scrape_sweep
from monitoring.models import Metric, MetricKind, MetricSample
from portal.schedules import declared_schedules
from tests.support import on_postgres

FIXTURES = Path(__file__).parent / "fixtures"


def stored(name, service=None, **labels):
    """{labels-without-target-labels: [values in time order]} of one metric."""
    rows = MetricSample.objects.filter(name=name).order_by("time", "id")
    if service is not None:
        rows = rows.filter(service=service)
    found = {}
    for row in rows:
        if all(row.labels.get(k) == v for k, v in labels.items()):
            key = tuple(sorted((k, v) for k, v in row.labels.items() if k not in labels))
            found.setdefault(key, []).append(row.value)
    return found


class Exporter:
    """A prometheus_client registry behind a URL of the test's HTTP server."""

    def __init__(self, httpserver, path="/metrics", openmetrics=False):
        self.registry = CollectorRegistry()
        self.openmetrics = openmetrics
        httpserver.expect_request(path).respond_with_handler(self.respond)
        self.url = httpserver.url_for(path)

    def respond(self, request):
        if self.openmetrics:
            return Response(openmetrics_latest(self.registry), content_type=OPENMETRICS_TYPE)
        return Response(generate_latest(self.registry), content_type="text/plain; version=0.0.4")


def target_for(service, url, **fields):
    return ScrapeTarget.objects.create(service=service, url=url, labels={"env": "test"}, **fields)


@pytest.fixture
def clock():
    start = timezone.now().replace(microsecond=0)
    return lambda minutes: start + timedelta(minutes=minutes)


@pytest.mark.django_db
@pytest.mark.parametrize("openmetrics", [False, True])
def test_counter_gauge_histogram_summary_mapped_exactly(httpserver, service, clock, openmetrics):
    exporter = Exporter(httpserver, openmetrics=openmetrics)
    requests = Counter("http_requests", "Requests.", ["method"], registry=exporter.registry)
    in_flight = Gauge("in_flight", "In flight.", registry=exporter.registry)
    latency = Histogram("latency_seconds", "Latency.", buckets=[0.1, 1.0], registry=exporter.registry)
    size = Summary("payload_bytes", "Sizes.", registry=exporter.registry)
    target = target_for(service, exporter.url)
    requests.labels("GET").inc(5)
    in_flight.set(3)
    latency.observe(0.05)
    size.observe(100)

    first = scrape_sweep(now=clock(0))
    assert (first.scraped, first.failed) == (1, 0)
    # The first scrape records where the counters stand; it writes no increments yet.
    assert stored("http_requests_total") == {}
    assert stored("in_flight", env="test") == {(): [3.0]}

    requests.labels("GET").inc(2)
    requests.labels("POST").inc(4)  # a series that appeared since: counted from zero
    in_flight.set(7)
    latency.observe(0.5)
    latency.observe(5)
    size.observe(50)
    assert scrape_sweep(now=clock(1)).scraped == 1

    assert stored("http_requests_total", env="test") == {(("method", "GET"),): [2.0], (("method", "POST"),): [4.0]}
    assert stored("in_flight", env="test") == {(): [3.0, 7.0]}
    assert stored("latency_seconds_bucket", env="test") == {
        (("le", "0.1"),): [0.0],
        (("le", "1.0"),): [1.0],
        (("le", "+Inf"),): [2.0],
    }
    assert stored("latency_seconds_count") == {(("env", "test"),): [2.0]}
    assert stored("latency_seconds_sum") == {(("env", "test"),): [5.5]}
    assert stored("payload_bytes_count") == {(("env", "test"),): [1.0]}
    assert stored("payload_bytes_sum") == {(("env", "test"),): [50.0]}
    kinds = dict(Metric.objects.values_list("name", "kind"))
    assert kinds["http_requests_total"] == kinds["latency_seconds_bucket"] == MetricKind.COUNTER
    assert kinds["in_flight"] == kinds["scrape_up"] == MetricKind.GAUGE
    assert not MetricSample.objects.filter(name__endswith="_created").exists()

    target.refresh_from_db()
    assert target.last_ok is True and target.last_error == ""
    assert target.last_scrape_at == clock(1) and target.claimed_until is None
    assert stored("scrape_up", target=exporter.url) == {(): [1.0, 1.0]}
    assert stored("scrape_samples", target=exporter.url)[()][1] == target.last_samples


@pytest.mark.django_db
def test_counter_reset_counts_the_new_value(httpserver, service, clock):
    exporter = Exporter(httpserver)
    jobs = Counter("jobs", "Jobs.", registry=exporter.registry)
    target_for(service, exporter.url)
    jobs.inc(10)
    scrape_sweep(now=clock(0))
    jobs.inc(5)
    scrape_sweep(now=clock(1))
    # The process restarts: a new registry whose counter starts again from zero.
    exporter.registry = CollectorRegistry()
    Counter("jobs", "Jobs.", registry=exporter.registry).inc(3)
    scrape_sweep(now=clock(2))
    assert stored("jobs_total", env="test") == {(): [5.0, 3.0]}


@pytest.mark.django_db
def test_summary_quantiles_become_gauges(httpserver, service, clock):
    text = (FIXTURES / "summary.txt").read_text()
    httpserver.expect_request("/summary").respond_with_data(text, content_type="text/plain")
    target_for(service, httpserver.url_for("/summary"))
    scrape_sweep(now=clock(0))
    assert stored("rpc_duration_seconds", env="test") == {(("quantile", "0.5"),): [0.2], (("quantile", "0.99"),): [1.5]}
    assert Metric.objects.get(name="rpc_duration_seconds").kind == MetricKind.GAUGE


@pytest.mark.django_db
def test_django_prometheus_output(httpserver, service, clock):
    text = (FIXTURES / "django_prometheus.txt").read_text()
    httpserver.expect_request("/dp").respond_with_data(text, content_type="text/plain; version=0.0.4")
    target = target_for(service, httpserver.url_for("/dp"))
    scrape_sweep(now=clock(0))
    target.refresh_from_db()
    assert target.last_ok is True, target.last_error
    assert stored("django_db_connections_total") == {}  # a baseline only
    assert stored("django_migrations_unapplied_total", env="test") == {(("connection", "default"),): [0.0]}
    assert stored("django_model_inserts_total") == {}
    scrape_sweep(now=clock(1))
    # The exporter's own `service` label is kept apart from the portal's.
    assert stored("django_db_connections_total", env="test") == {
        (("alias", "default"), ("exported_service", "shop"), ("vendor", "sqlite")): [0.0]
    }
    assert stored("process_resident_memory_bytes", env="test") == {(): [82460672.0, 82460672.0]}
    assert not MetricSample.objects.filter(name__endswith="_created").exists()
    assert stored("django_http_requests_latency_seconds_by_view_method_bucket", le="0.1", env="test") == {
        (("method", "GET"), ("view", "home")): [0.0]
    }


@pytest.mark.django_db
def test_bad_targets_report_and_do_not_stop_the_sweep(httpserver, service, clock, settings):
    settings.SCRAPE_MAX_BODY_BYTES = 10_000
    good = Exporter(httpserver, "/good")
    Gauge("alive", "Alive.", registry=good.registry).set(1)
    httpserver.expect_request("/huge").respond_with_data("# filler\n" * 5_000, content_type="text/plain")
    httpserver.expect_request("/bad").respond_with_data("this is { not metrics\n", content_type="text/plain")
    httpserver.expect_request("/500").respond_with_data("oops", status=500)

    def slow(request):
        time.sleep(2.5)
        return Response("late 1\n", content_type="text/plain")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    targets = {
        "huge": target_for(service, httpserver.url_for("/huge")),
        "bad": target_for(service, httpserver.url_for("/bad")),
        "500": target_for(service, httpserver.url_for("/500")),
        "slow": target_for(service, httpserver.url_for("/slow"), timeout_seconds=1),
        "down": target_for(service, "http://127.0.0.1:9/metrics"),
        "good": target_for(service, good.url),
    }
    outcome = scrape_sweep(now=clock(0))
    assert (outcome.scraped, outcome.failed) == (1, 5)
    errors = {}
    for name, target in targets.items():
        target.refresh_from_db()
        errors[name] = target.last_error
        assert target.last_ok is (name == "good"), name
    assert errors["huge"] == "body larger than 10000 bytes"
    assert errors["bad"].startswith("unparsable")
    assert errors["500"] == "HTTP 500"
    assert errors["slow"] == "timed out after 1 s"
    assert errors["down"].startswith("ConnectError")
    assert stored("alive", env="test") == {(): [1.0]}
    up = {t.url: v[0] for t in targets.values() for v in stored("scrape_up", target=t.url).values()}
    assert up == {t.url: float(name == "good") for name, t in targets.items()}


@pytest.mark.django_db
def test_series_over_the_limit_are_refused_and_reported(httpserver, service, clock):
    exporter = Exporter(httpserver)
    gauge = Gauge("shard_size", "Per shard.", ["shard"], registry=exporter.registry)
    for shard in range(30):
        gauge.labels(str(shard)).set(shard)
    target = target_for(service, exporter.url, series_limit=20)
    scrape_sweep(now=clock(0))
    target.refresh_from_db()
    assert target.last_ok is True
    assert target.last_refused_series == 10
    assert "10 series over the limit of 20 refused" in target.last_error
    assert len(stored("shard_size")) == 20


@pytest.mark.django_db
def test_due_targets_only_and_bearer_token_sent(httpserver, service, clock):
    httpserver.expect_request("/auth", headers={"Authorization": "Bearer s3cret"}).respond_with_data(
        "ready 1\n", content_type="text/plain"
    )
    target = target_for(service, httpserver.url_for("/auth"), bearer_token="s3cret", interval_seconds=120)
    target_for(service, httpserver.url_for("/off"), enabled=False)
    assert scrape_sweep(now=clock(0)).scraped == 1
    assert scrape_sweep(now=clock(1)).scraped == 0  # not due again before two minutes
    assert scrape_sweep(now=clock(2)).scraped == 1
    assert stored("ready", env="test") == {(): [1.0, 1.0]}
    target.refresh_from_db()
    assert target.last_ok is True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_sweeps_scrape_each_target_once(httpserver, service):
    if not on_postgres():
        pytest.skip("row claims between threads need PostgreSQL (SQLite serialises writers anyway)")
    hits = []
    lock = threading.Lock()

    def respond(request):
        with lock:
            hits.append(request.path)
        return Response("ready 1\n", content_type="text/plain")

    for index in range(30):
        httpserver.expect_request(f"/t{index}").respond_with_handler(respond)
        target_for(service, httpserver.url_for(f"/t{index}"))
    barrier = threading.Barrier(2)
    results = []
    now = timezone.now()

    def sweeper():
        try:
            barrier.wait()
            results.append(scrape_sweep(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2, "a sweep thread failed"
    assert sorted(hits) == sorted(f"/t{index}" for index in range(30))
    assert sum(r.scraped for r in results) == 30
    assert MetricSample.objects.filter(name="ready").count() == 30


@pytest.mark.django_db
def test_the_service_page_shows_each_targets_health(
    httpserver, service, clock, page_client, django_assert_max_num_queries
):
    httpserver.expect_request("/ok").respond_with_data("ready 1\n", content_type="text/plain")
    target_for(service, httpserver.url_for("/ok"))
    target_for(service, "http://127.0.0.1:9/metrics")
    scrape_sweep(now=clock(0))
    client = page_client("viewer")
    with django_assert_max_num_queries(40):
        page = client.get(f"/monitoring/services/{service.slug}/").content.decode()
    assert "Scrape targets" in page
    assert '<span class="badge healthy">up</span>' in page
    assert '<span class="badge unhealthy">down</span>' in page
    assert "ConnectError" in page


@pytest.mark.django_db
def test_changing_the_target_labels_starts_new_baselines(httpserver, service, clock):
    exporter = Exporter(httpserver)
    jobs = Counter("jobs", "Jobs.", registry=exporter.registry)
    target = target_for(service, exporter.url)
    jobs.inc(1000)
    scrape_sweep(now=clock(0))
    jobs.inc(5)
    scrape_sweep(now=clock(1))
    ScrapeTarget.objects.filter(pk=target.pk).update(labels={"env": "prod"})
    jobs.inc(7)
    scrape_sweep(now=clock(2))  # new series keys: a baseline, not 1,012 at once
    jobs.inc(2)
    scrape_sweep(now=clock(3))
    assert stored("jobs_total", env="test") == {(): [5.0]}
    assert stored("jobs_total", env="prod") == {(): [2.0]}


@pytest.mark.django_db
def test_a_sweeps_queries_do_not_grow_with_series(httpserver, service, clock):
    small, large = Exporter(httpserver, "/small"), Exporter(httpserver, "/large")
    for exporter, count in ((small, 5), (large, 1000)):
        gauge = Gauge("width", "Per shard.", ["shard"], registry=exporter.registry)
        counter = Counter("hits", "Per shard.", ["shard"], registry=exporter.registry)
        for shard in range(count):
            gauge.labels(str(shard)).set(shard)
            counter.labels(str(shard)).inc(shard)
    targets = [target_for(service, small.url), target_for(service, large.url, series_limit=5000)]
    assert scrape_sweep(now=clock(0)).scraped == 2  # baselines; the metric names are registered
    counts = []
    for minute, target in enumerate(targets, start=1):
        ScrapeTarget.objects.update(enabled=False)
        ScrapeTarget.objects.filter(pk=target.pk).update(enabled=True, next_scrape_at=None)
        with CaptureQueriesContext(connection) as queries:
            assert scrape_sweep(now=clock(minute)).scraped == 1
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert MetricSample.objects.filter(name="hits_total").count() == 5 + 1000  # one increment each


@pytest.mark.django_db
def test_the_sweep_is_scheduled_each_minute_and_its_task_runs(httpserver, service):
    (periodic,) = [p for p in declared_schedules() if p.name == "integrations.scrape"]
    assert periodic.minutes == 1
    httpserver.expect_request("/task").respond_with_data("ready 1\n", content_type="text/plain")
    target_for(service, httpserver.url_for("/task"))
    assert import_string(periodic.func)() == {"scraped": 1, "failed": 0, "rows": 4}
