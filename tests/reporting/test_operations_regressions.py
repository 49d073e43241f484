"""Per-endpoint p95 regressions from known request samples in two consecutive hours."""

from datetime import timedelta

import pytest

from monitoring.ingest import samples_write
from monitoring.requests import REQUEST_DURATION
from reporting.regressions import p95_regressions
from tests.monitoring.conftest import T0, row

MIN = timedelta(minutes=1)
NOW = T0 + timedelta(hours=2)


def _requests(service, route, seconds, *, hour, n):
    start = T0 + timedelta(hours=hour)
    return [
        row(service, REQUEST_DURATION, seconds, start + (i % 60) * MIN, route=route, method="GET", status_class="2xx")
        for i in range(n)
    ]


@pytest.fixture
def traffic(service):
    rows = []
    rows += _requests(service, "/slow/", 0.100, hour=0, n=60) + _requests(service, "/slow/", 0.300, hour=1, n=60)
    rows += _requests(service, "/same/", 0.050, hour=0, n=60) + _requests(service, "/same/", 0.051, hour=1, n=60)
    rows += _requests(service, "/rare/", 0.010, hour=0, n=5) + _requests(service, "/rare/", 1.0, hour=1, n=5)
    rows += _requests(service, "/new/", 1.0, hour=1, n=60)  # nothing before: nothing to compare
    samples_write(rows)


def test_an_endpoint_whose_p95_tripled_is_a_regression(traffic, service, settings):
    settings.REPORTING_REGRESSION_MIN_REQUESTS = 50
    found, compared = p95_regressions(service_id=service.pk, range_name="1h", now=NOW, min_change_percent=10)
    assert compared == 2  # /slow/ and /same/: /rare/ has too few requests, /new/ no previous hour
    (slow,) = found
    assert (slow.route, slow.method, slow.requests, slow.previous_requests) == ("/slow/", "GET", 60, 60)
    assert slow.p95_ms == pytest.approx(300, rel=0.02)  # sketches: 1 % relative error
    assert slow.previous_p95_ms == pytest.approx(100, rel=0.02)
    assert slow.change_percent == pytest.approx(200, rel=0.05)


def test_the_minimum_count_lets_rare_endpoints_in(traffic, service):
    found, compared = p95_regressions(service_id=service.pk, range_name="1h", now=NOW, min_requests=5)
    assert compared == 3
    assert [r.route for r in found] == ["/rare/", "/slow/"]
