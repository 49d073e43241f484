"""Endpoint figures from known request samples: rolled-up and raw minutes alike, a fixed number
of queries however many routes."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.ingest import samples_write
from monitoring.request_stats import endpoint_series, endpoints_sorted, request_stats, status_summary
from monitoring.requests import REQUEST_DURATION, REQUEST_EXCEPTIONS, WEB_VITALS
from monitoring.rollups import rollup_run
from tests.monitoring.conftest import T0, row

NOW = T0 + timedelta(hours=3)
MIN = timedelta(minutes=1)


def request(service, seconds, at, route="/a/", method="GET", status_class="2xx"):
    return row(service, REQUEST_DURATION, seconds, at, route=route, method=method, status_class=status_class)


@pytest.fixture
def traffic(service):
    """/a/ GET: 20 fast answers, 3 slow 5xx (one raised), 2 4xx; /b/<int:pk>/ POST: 4 answers.
    The first hour is rolled up (hour and minute rollups), the rest stays raw."""
    fast = [0.010 * (i + 1) for i in range(20)]  # 10 ms .. 200 ms
    rows = [request(service, v, T0 + i * MIN) for i, v in enumerate(fast)]
    rows += [request(service, 2.0 + i, T0 + timedelta(hours=2) + i * MIN, status_class="5xx") for i in range(3)]
    rows += [request(service, 0.005, T0 + timedelta(hours=2, minutes=10), status_class="4xx")] * 2
    rows += [request(service, 0.3, T0 + (30 + i) * MIN, route="/b/<int:pk>/", method="POST") for i in range(4)]
    rows.append(row(service, REQUEST_EXCEPTIONS, 1, T0 + timedelta(hours=2), route="/a/", method="GET"))
    samples_write(rows)
    rollup_run(now=T0 + timedelta(hours=1, minutes=5))
    return {"a": [*fast, 2.0, 3.0, 4.0, 0.005, 0.005], "b": [0.3] * 4}


def test_it_counts_requests_errors_and_raised_per_endpoint(traffic, service):
    stats = request_stats(service_id=service.pk, range_name="24h", now=NOW)
    a, b = stats.endpoints  # busiest first
    assert (a.route, a.method, a.requests, a.errors, a.client_errors, a.raised) == ("/a/", "GET", 25, 3, 2, 1)
    assert a.error_rate == pytest.approx(3 / 25)
    assert a.per_minute == pytest.approx(25 / 1440)
    assert (b.route, b.method, b.requests, b.errors, b.error_rate) == ("/b/<int:pk>/", "POST", 4, 0, 0)


def test_percentiles_merge_every_status_class(traffic, service):
    a = request_stats(service_id=service.pk, range_name="24h", now=NOW).endpoints[0]
    values = np.array(traffic["a"])
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert getattr(a, name) == pytest.approx(np.percentile(values, q, method="lower"), rel=0.02), name
    assert a.p99_ms == pytest.approx(1000 * a.p99)


def test_a_shorter_range_sees_only_its_window(traffic, service):
    stats = request_stats(service_id=service.pk, range_name="1h", now=NOW)
    (a,) = stats.endpoints  # /b/ was 2.5 hours ago
    assert (a.requests, a.errors, a.raised) == (5, 3, 1)
    assert a.per_minute == pytest.approx(5 / 60)


def test_another_services_requests_are_not_counted(traffic, other_service):
    assert request_stats(service_id=other_service.pk, range_name="30d", now=NOW).endpoints == []


def test_web_vitals_p75_per_page_route(service):
    lcp = [1000.0, 1200.0, 1400.0, 4000.0]
    rows = [row(service, WEB_VITALS, v, T0 + i * MIN, route="/a/", vital="LCP") for i, v in enumerate(lcp)]
    rows.append(row(service, WEB_VITALS, 0.12, T0, route="/a/", vital="CLS"))
    samples_write(rows)
    vitals = request_stats(service_id=service.pk, range_name="24h", now=NOW).vitals
    assert set(vitals) == {"/a/"}
    assert vitals["/a/"]["LCP"] == pytest.approx(1400.0, rel=0.01)
    assert vitals["/a/"]["CLS"] == pytest.approx(0.12, rel=0.01)
    assert vitals["/a/"]["INP"] is None


def test_the_number_of_queries_does_not_grow_with_routes(service):
    def count_queries(routes: int) -> int:
        samples_write([request(service, 0.1, T0 + i % 50 * MIN, route=f"/r{i}/") for i in range(routes)])
        with CaptureQueriesContext(connection) as ctx:
            found = request_stats(service_id=service.pk, range_name="24h", now=NOW)
        assert len(found.endpoints) >= routes
        return len(ctx.captured_queries)

    few = count_queries(3)
    assert count_queries(60) == few
    assert few <= 5


def test_sorting_puts_endpoints_without_a_value_last(traffic, service):
    stats = request_stats(service_id=service.pk, range_name="24h", now=NOW)
    stats.endpoints[1].p95 = None
    assert [e.route for e in endpoints_sorted(stats.endpoints, "-p95")] == ["/a/", "/b/<int:pk>/"]
    assert [e.route for e in endpoints_sorted(stats.endpoints, "route")] == ["/a/", "/b/<int:pk>/"]
    assert [e.route for e in endpoints_sorted(stats.endpoints, "-route")] == ["/b/<int:pk>/", "/a/"]
    with pytest.raises(ValueError, match="ordering"):
        endpoints_sorted(stats.endpoints, "size")


def test_status_summary_shares(traffic, service):
    summary = status_summary(service_id=service.pk, range_name="24h", now=NOW)
    assert (summary.requests, summary.client_errors, summary.server_errors) == (29, 2, 3)
    assert summary.success_percent == pytest.approx(100 * 24 / 29)
    assert summary.server_error_percent == pytest.approx(100 * 3 / 29)


def test_status_summary_without_requests_has_no_shares(service):
    summary = status_summary(service_id=service.pk, range_name="1h", now=NOW)
    assert summary.requests == 0 and summary.success_percent is None


def test_endpoint_series_merges_status_classes_per_step(traffic, service):
    found = endpoint_series(service_id=service.pk, route="/a/", method="GET", range_name="24h", now=NOW)
    assert len(found.starts) == 144  # 10-minute steps over 24 hours
    by_start = dict(zip(found.starts, range(len(found.starts)), strict=True))
    first = by_start[T0]  # minutes 0-9: ten fast answers
    assert found.lines["requests"][first] == pytest.approx(10 / 10)
    assert found.lines["p99"][first] == pytest.approx(0.09, rel=0.01)  # lower rank, like the sketch
    late = by_start[T0 + timedelta(hours=2)]  # three 5xx in minutes 0-2
    assert found.lines["errors"][late] == pytest.approx(3 / 10)
    assert found.lines["p50"][late] == pytest.approx(3.0, rel=0.01)
    empty = by_start[T0 + timedelta(hours=1)]
    assert found.lines["requests"][empty] == 0 and found.lines["p50"][empty] is None


def test_endpoint_series_over_days_reads_hour_steps(traffic, service, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        found = endpoint_series(service_id=service.pk, route="/b/<int:pk>/", method="POST", range_name="7d", now=NOW)
    assert sum(found.lines["requests"]) * 60 == pytest.approx(4)
