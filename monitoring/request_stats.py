"""Per-endpoint request figures of a service, read from the request series (monitoring.requests)
through monitoring.query: hour rollups for whole hours, minute rollups and raw samples around
them. One `collect_buckets` call per page or API answer, so the number of queries stays the same
however many routes a service has.

An endpoint is (route, method). Its error rate is the share of 5xx answers; a request whose view
raised is recorded as 5xx by the middleware (and by the Sentry transaction ingest when the trace
failed), so it is part of that share, and also counted apart as `raised`.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from monitoring.query import Bucket, WindowAggregate, collect_buckets, step_start
from monitoring.requests import REQUEST_DURATION, REQUEST_EXCEPTIONS, VITALS, WEB_VITALS
from monitoring.sketches import sketch_quantile
from portal.lib.finite import finite_or_none

# range name -> (window, chart step in seconds): 60-180 chart points; whole-hour steps read hour rollups.
RANGES = {
    "1h": (timedelta(hours=1), 60),
    "24h": (timedelta(hours=24), 600),
    "7d": (timedelta(days=7), 3600),
    "30d": (timedelta(days=30), 4 * 3600),
}
DEFAULT_RANGE = "24h"
PERCENTILES = ("p50", "p95", "p99")
VITALS_QUANTILE = 0.75  # what web-vitals reports are judged by (Google's "good" thresholds)
# Sortable columns of the endpoints page and API; "-" in front sorts descending.
ORDERINGS = ("route", "method", "requests", "per_minute", "error_rate", "raised", "p50", "p95", "p99")


@dataclass
class EndpointStats:
    route: str
    method: str
    requests: int = 0
    errors: int = 0  # 5xx answers (raised requests included)
    client_errors: int = 0  # 4xx answers
    raised: int = 0
    per_minute: float = 0.0
    p50: float | None = None  # seconds
    p95: float | None = None
    p99: float | None = None
    parts: list[Bucket] = field(default_factory=list, repr=False, compare=False)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    # For pages: percentages 0-100 and milliseconds.
    @property
    def error_percent(self) -> float | None:
        rate = self.error_rate
        return None if rate is None else 100 * rate

    @property
    def p50_ms(self) -> float | None:
        return None if self.p50 is None else 1000 * self.p50

    @property
    def p95_ms(self) -> float | None:
        return None if self.p95 is None else 1000 * self.p95

    @property
    def p99_ms(self) -> float | None:
        return None if self.p99 is None else 1000 * self.p99


@dataclass
class ServiceRequests:
    """What the endpoints page and API show for one service and range."""

    endpoints: list[EndpointStats]
    # route -> vital -> p75 (milliseconds; CLS unitless), for routes real browsers reported
    vitals: dict[str, dict[str, float | None]]
    since: datetime
    until: datetime


def _window(range_name: str, now: datetime | None) -> tuple[datetime, datetime, float]:
    until = now or timezone.now()
    window, _ = RANGES[range_name]
    return until - window, until, window.total_seconds()


def request_stats(*, service_id: int, range_name: str = DEFAULT_RANGE, now: datetime | None = None) -> ServiceRequests:
    """Requests, requests/minute, error rate, raised count and p50/p95/p99 per endpoint over the
    range, and the web vitals' p75 per page route."""
    since, until, seconds = _window(range_name, now)
    found = collect_buckets(
        names=[REQUEST_DURATION, REQUEST_EXCEPTIONS, WEB_VITALS],
        since=since,
        until=until,
        service_id=service_id,
        hours=True,
        packed=True,
    )
    endpoints: dict[tuple[str, str], EndpointStats] = {}
    vital_parts: dict[str, dict[str, list[Bucket]]] = defaultdict(lambda: defaultdict(list))
    for (name, key), buckets in found.items():
        labels = dict(key)
        route = labels.get("route", "")
        if name == WEB_VITALS:
            if labels.get("vital") in VITALS:
                vital_parts[route][labels["vital"]].extend(buckets)
            continue
        endpoint = (route, labels.get("method", ""))
        stats = endpoints.get(endpoint)
        if stats is None:
            stats = endpoints[endpoint] = EndpointStats(*endpoint)
        if name == REQUEST_EXCEPTIONS:
            stats.raised += round(sum(b.sum for b in buckets))  # counters are stored as increments
            continue
        count = sum(b.count for b in buckets)
        stats.requests += count
        stats.parts.extend(buckets)
        if labels.get("status_class") == "5xx":
            stats.errors += count
        elif labels.get("status_class") == "4xx":
            stats.client_errors += count
    for stats in endpoints.values():
        stats.per_minute = stats.requests * 60 / seconds
        merged = WindowAggregate.merge(stats.parts, window_seconds=seconds)
        stats.p50, stats.p95, stats.p99 = (merged.value(p) for p in PERCENTILES)
    vitals = {
        route: {vital: _quantile(per_vital.get(vital, []), VITALS_QUANTILE) for vital in VITALS}
        for route, per_vital in sorted(vital_parts.items())
    }
    rows = sorted(endpoints.values(), key=lambda s: (-s.requests, s.route, s.method))
    return ServiceRequests(endpoints=rows, vitals=vitals, since=since, until=until)


def _quantile(buckets: list[Bucket], q: float) -> float | None:
    if not buckets:
        return None
    return finite_or_none(sketch_quantile(WindowAggregate.merge(buckets).sketch, q))


def endpoints_sorted(endpoints: list[EndpointStats], ordering: str) -> list[EndpointStats]:
    """Sorted by one of ORDERINGS ("-p95": slowest first); endpoints without a value go last."""
    descending = ordering.startswith("-")
    column = ordering.lstrip("-")
    if column not in ORDERINGS:
        raise ValueError(f"ordering: expected one of {', '.join(ORDERINGS)}, optionally prefixed with -")
    present = [e for e in endpoints if getattr(e, column) is not None]
    missing = [e for e in endpoints if getattr(e, column) is None]
    present.sort(key=lambda e: getattr(e, column), reverse=descending)
    return present + missing


@dataclass
class StatusSummary:
    """Success and failure shares of every request of a service (the service page)."""

    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0

    def percent(self, count: int) -> float | None:
        return 100 * count / self.requests if self.requests else None

    @property
    def success_percent(self) -> float | None:
        return self.percent(self.requests - self.client_errors - self.server_errors)

    @property
    def client_error_percent(self) -> float | None:
        return self.percent(self.client_errors)

    @property
    def server_error_percent(self) -> float | None:
        return self.percent(self.server_errors)


def status_summary(*, service_id: int, range_name: str = DEFAULT_RANGE, now: datetime | None = None) -> StatusSummary:
    """Counts only: the packed sketches are never decoded."""
    since, until, _ = _window(range_name, now)
    found = collect_buckets(
        names=[REQUEST_DURATION], since=since, until=until, service_id=service_id, hours=True, packed=True
    )
    summary = StatusSummary()
    for (_, key), buckets in found.items():
        count = sum(b.count for b in buckets)
        summary.requests += count
        klass = dict(key).get("status_class")
        if klass == "4xx":
            summary.client_errors += count
        elif klass == "5xx":
            summary.server_errors += count
    return summary


@dataclass
class EndpointSeries:
    """One endpoint over time: latency percentiles (seconds) and throughput (per minute)."""

    starts: list[datetime]
    lines: dict[str, list[float | None]]  # p50, p95, p99, requests, errors


def endpoint_series(
    *, service_id: int, route: str, method: str, range_name: str = DEFAULT_RANGE, now: datetime | None = None
) -> EndpointSeries:
    """Like monitoring.query.series_query, but with the status classes of the endpoint merged into
    one distribution per step (series_query answers one line per label set)."""
    since, until, _ = _window(range_name, now)
    _, step = RANGES[range_name]
    first = step_start(since, step)
    found = collect_buckets(
        names=[REQUEST_DURATION], since=first, until=until, service_id=service_id, hours=step % 3600 == 0, packed=True
    )
    starts = []
    moment = first
    while moment < until:
        starts.append(moment)
        moment += timedelta(seconds=step)
    per_step: dict[datetime, list[Bucket]] = defaultdict(list)
    errors: dict[datetime, int] = defaultdict(int)
    for (_, key), buckets in found.items():
        labels = dict(key)
        if labels.get("route") != route or labels.get("method") != method:
            continue
        for bucket in buckets:
            begin = step_start(bucket.start, step)
            per_step[begin].append(bucket)
            if labels.get("status_class") == "5xx":
                errors[begin] += bucket.count
    lines: dict[str, list[float | None]] = {name: [] for name in (*PERCENTILES, "requests", "errors")}
    minutes = step / 60
    for start in starts:
        merged = WindowAggregate.merge(per_step.get(start, ()), window_seconds=step)
        for p in PERCENTILES:
            lines[p].append(merged.value(p))
        lines["requests"].append(merged.count / minutes)
        lines["errors"].append(errors.get(start, 0) / minutes)
    return EndpointSeries(starts=starts, lines=lines)
