"""A believable small web shop: the demo service's requests, latencies and queue depths, and
what went wrong when. Imports nothing from Django (numpy only), so it is tested alone.

Samples have the shape the portal's metrics registry flushes (see monitoring.metrics): a counter
sample every flush (10 s) with the increment since the previous one, a timer observation per
request (seconds), a gauge reading every flush. Everything is a function of time and one
`Scenario`, so the week of history and the live minutes that follow it tell the same story:

- a daily rhythm (quiet at 03:00 UTC, busiest at 15:00) and quieter weekends;
- an incident two to three days ago: checkout, cart and the orders API slow and failing for a
  couple of hours, the order queue piling up, the shop API health check down for part of it;
- still going on: search slow since a reindex began, the email queue stuck, payment-provider
  webhooks failing, and a partner polling the slow order export every minute.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

REQUESTS = "http_requests_total"
DURATION = "http_request_duration_seconds"
QUEUE_DEPTH = "shop_queue_depth"
HELP = {
    REQUESTS: "HTTP requests by route pattern, method and status",
    DURATION: "HTTP request duration by route pattern, method and status class (seconds)",
    QUEUE_DEPTH: "Jobs waiting in a background queue",
}
KINDS = {REQUESTS: "counter", DURATION: "timer", QUEUE_DEPTH: "gauge"}
SLOT = 10  # seconds between two flushes of the service's registry
FLUSH_AT = 9.5  # where in its slot a flush writes counters and gauges
PEAK_RATE = 2.0  # requests per second at 15:00 UTC on a weekday
QUEUES = ("orders", "emails")

# A series: (metric name, sorted label items). The service label is added by whoever stores it.
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Route:
    pattern: str
    method: str
    share: float  # of all shop requests
    median: float  # seconds
    sigma: float = 0.45  # spread of the log-normal durations
    not_found: float = 0.0
    errors: float = 0.0005
    steady_rate: float | None = None  # requests/s regardless of the daily rhythm (webhooks)


CHECKOUT, CART, ORDERS_API = "/checkout/", "/cart/", "/api/orders/"
SEARCH, WEBHOOKS = "/search/", "/webhooks/payments/"
ROUTES = (
    Route("/", "GET", 0.30, 0.045),
    Route("/products/<slug>/", "GET", 0.34, 0.070, not_found=0.02),
    Route(SEARCH, "GET", 0.10, 0.180),
    Route(CART, "POST", 0.13, 0.090),
    Route(CHECKOUT, "POST", 0.06, 0.320, errors=0.002),
    Route(ORDERS_API, "GET", 0.07, 0.120, errors=0.001),
    # The payment provider calls back at its own pace (and retries failed calls).
    Route(WEBHOOKS, "POST", 0.0, 0.050, steady_rate=0.1),
)
# During the incident: (latency factor at its worst, share of 5xx).
INCIDENT_HIT = {CHECKOUT: (7.0, 0.14), CART: (4.0, 0.05), ORDERS_API: (5.0, 0.08)}


def error_status(route: Route) -> str:
    return "502" if route.pattern == WEBHOOKS else "500"


def request_labels(route: Route, status: str) -> tuple[tuple[str, str], ...]:
    return (("method", route.method), ("route", route.pattern), ("status", status))


def duration_labels(route: Route, status_class: str = "2xx") -> tuple[tuple[str, str], ...]:
    # The labels of the portal's own request middleware (monitoring.requests), so the endpoints
    # page shows the demo's error rates like any service's.
    return (("method", route.method), ("route", route.pattern), ("status_class", status_class))


def queue_labels(queue: str) -> tuple[tuple[str, str], ...]:
    return (("queue", queue),)


def floor_slot(moment: datetime) -> datetime:
    epoch = math.floor(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % SLOT, tz=UTC)


@dataclass(frozen=True)
class Scenario:
    """When things went wrong. Built around a moment (`around`), so history written at install
    time and live samples written later agree: every "since" lies before the moment."""

    incident_start: datetime
    incident_end: datetime
    outage_start: datetime  # the shop API health check is down (inside the incident)
    outage_end: datetime
    export_since: datetime  # a partner polls the slow order export once a minute
    search_slow_since: datetime  # reindexing: search answers from a cold index
    emails_stuck_since: datetime  # the email worker stopped consuming
    webhooks_failing_since: datetime  # the payment provider's callbacks fail with 502

    @classmethod
    def around(cls, now: datetime) -> "Scenario":
        # A busy afternoon (14:20 UTC) two to three days before `now`.
        day = (now - timedelta(days=2, hours=12)).astimezone(UTC).date()
        start = datetime(day.year, day.month, day.day, 14, 20, tzinfo=UTC)
        if start > now - timedelta(days=2):
            start -= timedelta(days=1)
        minute = timedelta(minutes=1)
        return cls(
            incident_start=start,
            incident_end=start + 130 * minute,
            outage_start=start + 35 * minute,
            outage_end=start + 80 * minute,
            export_since=now - timedelta(hours=30),
            search_slow_since=now - timedelta(hours=5),
            emails_stuck_since=now - 50 * minute,
            webhooks_failing_since=now - 25 * minute,
        )

    def _ts(self, name: str) -> float:
        return getattr(self, name).timestamp()

    def incident_weight(self, t: np.ndarray) -> np.ndarray:
        """0 outside the incident, ramping to 1 over 15 minutes and back over 20."""
        start, end = self._ts("incident_start"), self._ts("incident_end")
        up = np.clip((t - start) / 900.0, 0.0, 1.0)
        down = np.clip((end - t) / 1200.0, 0.0, 1.0)
        return np.where((t >= start) & (t < end), np.minimum(up, down), 0.0)


def traffic_rate(t: np.ndarray) -> np.ndarray:
    """Shop requests per second at epoch seconds `t`: peak 15:00 UTC, trough 03:00, weekends 70 %."""
    hours = (t % 86400) / 3600.0
    daily = 0.55 + 0.45 * np.cos(2 * np.pi * (hours - 15.0) / 24.0)
    weekday = ((t // 86400).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (3)
    return PEAK_RATE * daily * np.where(weekday >= 5, 0.7, 1.0)


def _route_rate(route: Route, t: np.ndarray, scenario: Scenario) -> np.ndarray:
    if route.steady_rate is None:
        return traffic_rate(t) * route.share
    failing = t >= scenario._ts("webhooks_failing_since")
    return np.where(failing, route.steady_rate * 1.6, route.steady_rate)  # the provider retries


def _medians(route: Route, t: np.ndarray, scenario: Scenario) -> np.ndarray:
    medians = np.full(t.shape, route.median)
    hit = INCIDENT_HIT.get(route.pattern)
    if hit is not None:
        medians *= 1.0 + (hit[0] - 1.0) * scenario.incident_weight(t)
    if route.pattern == SEARCH:
        medians = np.where(t >= scenario._ts("search_slow_since"), 1.1, medians)
    return medians


def _error_share(route: Route, t: np.ndarray, scenario: Scenario) -> np.ndarray:
    share = np.full(t.shape, route.errors)
    hit = INCIDENT_HIT.get(route.pattern)
    if hit is not None:
        share = np.maximum(share, hit[1] * scenario.incident_weight(t))
    if route.pattern == WEBHOOKS:
        share = np.where(t >= scenario._ts("webhooks_failing_since"), 0.85, share)
    return share


def queue_depth(queue: str, t: np.ndarray, scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    if queue == "orders":
        base = 2.0 + 3.0 * traffic_rate(t) + rng.normal(0.0, 1.0, t.shape)
        start, end = scenario._ts("incident_start"), scenario._ts("incident_end")
        piling = np.clip((t - start) / (end - start), 0.0, 1.0) * 380.0
        draining = np.clip(1.0 - (t - end) / 1800.0, 0.0, 1.0)
        backlog = np.where(t < end, piling, 380.0 * draining) * (t >= start)
        return np.round(np.maximum(base + backlog, 0.0))
    since = scenario._ts("emails_stuck_since")
    stuck = np.clip((t - since) / 1200.0, 0.0, 1.0) * (140.0 + 15.0 * np.sin(t / 700.0))
    normal = rng.poisson(1.5, t.shape)
    return np.where(t >= since, np.round(stuck) + normal, normal).astype(float)


def samples_between(
    start: datetime, end: datetime, scenario: Scenario, rng: np.random.Generator
) -> dict[SeriesKey, tuple[np.ndarray, np.ndarray]]:
    """Every sample the shop flushes in the whole slots of [start, end): per series, the sample
    times (epoch seconds, ascending) and values. `start` must be on a slot boundary."""
    first = start.timestamp()
    slots = int((end.timestamp() - first) // SLOT)
    out: dict[SeriesKey, tuple[np.ndarray, np.ndarray]] = {}
    if slots <= 0:
        return out
    starts = first + SLOT * np.arange(slots, dtype=float)
    middle, flushed = starts + SLOT / 2, starts + FLUSH_AT
    for route in ROUTES:
        counts = rng.poisson(_route_rate(route, middle, scenario) * SLOT)
        errors = rng.binomial(counts, _error_share(route, middle, scenario))
        missing = rng.binomial(counts - errors, route.not_found) if route.not_found else np.zeros_like(counts)
        ok = counts - errors - missing
        total = int(counts.sum())
        times = np.repeat(starts, counts) + rng.uniform(0.0, SLOT, total)
        values = np.repeat(_medians(route, middle, scenario), counts) * np.exp(route.sigma * rng.standard_normal(total))
        # Each request's status class: in its slot the first `ok` answered 2xx, then 4xx, then 5xx.
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        classes = np.where(
            within < np.repeat(ok, counts), "2xx", np.where(within < np.repeat(ok + missing, counts), "4xx", "5xx")
        )
        if route.pattern == ORDERS_API:
            # The partner's export call, once a minute at hh:mm:05, takes about three seconds.
            export = (starts % 60 == 0) & (starts >= scenario._ts("export_since"))
            ok = ok + export
            times = np.concatenate([times, starts[export] + 5.0])
            values = np.concatenate([values, 3.0 * np.exp(0.15 * rng.standard_normal(int(export.sum())))])
            classes = np.concatenate([classes, np.full(int(export.sum()), "2xx")])
        for status, amounts in (("200", ok), ("404", missing), (error_status(route), errors)):
            sent = amounts > 0
            if sent.any():
                out[(REQUESTS, request_labels(route, status))] = (flushed[sent], amounts[sent].astype(float))
        for status_class in ("2xx", "4xx", "5xx"):
            chosen = classes == status_class
            if chosen.any():
                order = np.argsort(times[chosen], kind="stable")
                out[(DURATION, duration_labels(route, status_class))] = (times[chosen][order], values[chosen][order])
    for queue in QUEUES:
        out[(QUEUE_DEPTH, queue_labels(queue))] = (flushed.copy(), queue_depth(queue, middle, scenario, rng))
    return out
