"""The overview dashboard's figures over a time range: alert ages, requests (p95, error rate),
the workers' tasks. The other apps' tiles are in reporting/dashboard_tiles.py.

Every tile reads stored results and rollups through the owning app's query functions with a
fixed number of grouped queries, and caps its lists, so the page costs the same number of
queries with ten times the data. Each tile works with no data at all (an empty state).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Min, Q
from django_q.models import Task

from monitoring.alerting.models import Alert, AlertStatus
from monitoring.query import QUANTILES, Bucket, WindowAggregate, collect_buckets, step_start
from monitoring.requests import REQUEST_DURATION
from monitoring.sketches import sketch_merge_all, sketch_quantile
from portal.lib.finite import finite_or_none

# range name -> (window, chart step in seconds): 12 to 168 chart points per range.
RANGES = {
    "1h": (timedelta(hours=1), 300),
    "24h": (timedelta(hours=24), 3600),
    "7d": (timedelta(days=7), 6 * 3600),
    "30d": (timedelta(days=30), 86400),
}
DEFAULT_RANGE = "24h"
TOP_SERVICES = 10  # rows of the requests tile; the endpoints page has the rest


class RangeError(ValueError):
    """A `range` value that is not one of RANGES (the page answers 400 naming the field)."""


@dataclass(frozen=True)
class Span:
    name: str
    since: datetime
    until: datetime
    step: int  # chart step, seconds

    @property
    def seconds(self) -> float:
        return (self.until - self.since).total_seconds()


def span_of(value: str | None, *, now: datetime) -> Span:
    """The range asked for (`?range=`), ending now; no value is the default range."""
    name = value or DEFAULT_RANGE
    if name not in RANGES:
        raise RangeError(f"range: expected one of {', '.join(RANGES)}, got {value!r}")
    window, step = RANGES[name]
    return Span(name, now - window, now, step)


def step_buckets(span: Span, step: int | None = None) -> list[datetime]:
    """Chart buckets covering the span, aligned to the step in UTC (stable across reloads)."""
    step = step or span.step
    first = step_start(span.since.astimezone(UTC), step)
    count = int((span.until - first).total_seconds() // step) + 1
    return [first + timedelta(seconds=step * i) for i in range(count)]


# --- Alerts ------------------------------------------------------------------------------


@dataclass
class AlertAges:
    firing: int = 0
    acknowledged: int = 0
    oldest_firing: datetime | None = None
    oldest_acknowledged: datetime | None = None
    opened_in_range: int = 0


def alert_ages(span: Span) -> AlertAges:
    """Open alerts by status with the age of the oldest of each (one grouped query), and the
    alerts opened in the range (one count)."""
    ages = AlertAges()
    rows = Alert.objects.open().values_list("status").annotate(n=Count("id"), oldest=Min("created_at"))
    for status, n, oldest in rows.order_by():
        if status == AlertStatus.FIRING:
            ages.firing, ages.oldest_firing = n, oldest
        elif status == AlertStatus.ACKNOWLEDGED:
            ages.acknowledged, ages.oldest_acknowledged = n, oldest
    # Along the created_at index: no scan of the alert history.
    ages.opened_in_range = Alert.objects.filter(created_at__gte=span.since, created_at__lt=span.until).count()
    return ages


# --- Requests ----------------------------------------------------------------------------


@dataclass
class RequestFigures:
    key: str  # a service slug, or "" for every service together
    requests: int = 0
    errors: int = 0  # 5xx answers
    p95: float | None = None  # seconds

    @property
    def error_percent(self) -> float | None:
        return 100 * self.errors / self.requests if self.requests else None

    @property
    def p95_ms(self) -> float | None:
        return None if self.p95 is None else 1000 * self.p95


@dataclass
class Requests:
    total: RequestFigures
    services: list[RequestFigures]  # busiest first, capped
    per_minute: float


def request_figures(span: Span) -> Requests:
    """Requests, 5xx share and p95 of every service together and of the busiest services, from
    the request-duration series (hour rollups for whole hours): one collect_buckets call."""
    found = collect_buckets(names=[REQUEST_DURATION], since=span.since, until=span.until, hours=True, packed=True)
    total = RequestFigures("")
    per_service: dict[str, RequestFigures] = {}
    parts: dict[str, list[Bucket]] = defaultdict(list)
    for (_name, key), buckets in found.items():
        labels = dict(key)
        slug = labels.get("service", "")
        figures = per_service.get(slug) or per_service.setdefault(slug, RequestFigures(slug))
        count = sum(b.count for b in buckets)
        figures.requests += count
        figures.errors += count if labels.get("status_class") == "5xx" else 0
        parts[slug].extend(buckets)
    sketches = []
    for slug, figures in per_service.items():
        merged = WindowAggregate.merge(parts[slug], window_seconds=span.seconds)
        figures.p95 = merged.value("p95")
        total.requests += figures.requests
        total.errors += figures.errors
        if merged.count:
            sketches.append(merged.sketch)
    # The services' merged sketches merged once more, so each rollup's bins are read once
    # (sketch_quantiles_packed with a group of every rollup took twice as long at 1M samples).
    total.p95 = finite_or_none(sketch_quantile(sketch_merge_all(sketches), QUANTILES["p95"]))
    services = sorted(per_service.values(), key=lambda f: (-f.requests, f.key))[:TOP_SERVICES]
    return Requests(total=total, services=services, per_minute=total.requests * 60 / span.seconds)


def request_series(span: Span) -> tuple[list[datetime], list[int], list[int]]:
    """Requests and 5xx answers per chart step (counts only: no sketch is read)."""
    buckets = step_buckets(span)
    requests, errors = defaultdict(int), defaultdict(int)
    found = collect_buckets(
        names=[REQUEST_DURATION], since=span.since, until=span.until, hours=span.step % 3600 == 0, sketches=False
    )
    for (_name, key), rows in found.items():
        failed = dict(key).get("status_class") == "5xx"
        for bucket in rows:
            at = step_start(bucket.start, span.step)
            requests[at] += bucket.count
            if failed:
                errors[at] += bucket.count
    return buckets, [requests[b] for b in buckets], [errors[b] for b in buckets]


# --- The portal's own workers --------------------------------------------------------------


@dataclass
class TaskFigures:
    succeeded: int
    failed: int


def task_figures(span: Span) -> TaskFigures:
    """Background tasks finished in the range, by outcome (one aggregate)."""
    counts = Task.objects.filter(stopped__gte=span.since, stopped__lt=span.until).aggregate(
        ok=Count("id", filter=Q(success=True)), failed=Count("id", filter=Q(success=False))
    )
    return TaskFigures(succeeded=counts["ok"], failed=counts["failed"])
