"""Per-endpoint p95 regressions of one service: this period against the one before it, read
through monitoring.request_stats (two calls, so a fixed number of queries per service).

An endpoint with fewer than REPORTING_REGRESSION_MIN_REQUESTS requests in either period is left
out: a p95 of a handful of requests moves by chance."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from monitoring.request_stats import RANGES, request_stats

MAX_CHANGE_PERCENT = 10_000.0  # the largest `min_change` a caller may ask for


@dataclass
class Regression:
    route: str
    method: str
    requests: int
    previous_requests: int
    p95_ms: float
    previous_p95_ms: float

    @property
    def change_percent(self) -> float:
        return 100.0 * (self.p95_ms - self.previous_p95_ms) / self.previous_p95_ms


def p95_regressions(
    *,
    service_id: int,
    range_name: str = "24h",
    now: datetime | None = None,
    min_requests: int | None = None,
    min_change_percent: float = 10.0,
) -> tuple[list[Regression], int]:
    """(endpoints whose p95 rose by at least `min_change_percent` %, slowest growth first;
    how many endpoints were compared). Both periods have the length of `range_name`."""
    now = now or timezone.now()
    window, _ = RANGES[range_name]
    floor = settings.REPORTING_REGRESSION_MIN_REQUESTS if min_requests is None else min_requests
    current = request_stats(service_id=service_id, range_name=range_name, now=now)
    previous = request_stats(service_id=service_id, range_name=range_name, now=now - window)
    before = {(e.route, e.method): e for e in previous.endpoints}
    found, compared = [], 0
    for endpoint in current.endpoints:
        old = before.get((endpoint.route, endpoint.method))
        if old is None or min(endpoint.requests, old.requests) < floor or not endpoint.p95 or not old.p95:
            continue
        compared += 1
        row = Regression(
            endpoint.route, endpoint.method, endpoint.requests, old.requests, endpoint.p95 * 1000, old.p95 * 1000
        )
        if row.change_percent >= min_change_percent:
            found.append(row)
    found.sort(key=lambda r: (-r.change_percent, r.route, r.method))
    return found, compared
