"""The demo service's health checks and heartbeats, a week of their results, and what keeps
them going live.

The three checks are `custom` checks whose callables (below) answer from the same `Scenario`
as the metrics, so the health sweep keeps producing believable results after the install:
the shop API is up, the payment provider and the search index are degraded. They run only where
the callables are registered in HEALTH_CUSTOM_CHECKS (by default with DEBUG on: settings'
DEMO_CUSTOM_CHECKS); elsewhere the demo goes without them. The two heartbeats are pinged
through `heartbeat_ping` by the live task, as the jobs themselves would.
"""

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from django.utils import timezone

from monitoring.healthchecks.custom import registered
from monitoring.healthchecks.heartbeat import Beat, heartbeat_status, next_due
from monitoring.healthchecks.kinds import DEGRADED, HEALTHY, UNHEALTHY, Outcome, beat_of
from monitoring.healthchecks.runner import LATENCY_METRIC, health_check_run, run_latency
from monitoring.heartbeats import heartbeat_ping
from monitoring.hosts import portal_service
from monitoring.ingest import metric_kinds
from monitoring.models import CheckKind, HealthCheck, HealthCheckResult, HeartbeatPing, MetricKind, PingKind
from portal.demo.bulk import rows_insert
from portal.demo.metrics import series_history_write
from portal.demo.traffic import Scenario
from portal.models import Service

INTERVAL = timedelta(minutes=5)
HISTORY = timedelta(days=7)
SHOP_API, PAYMENTS, SEARCH_INDEX = "Shop API", "Payment provider", "Search index"
NIGHTLY_EXPORT, CACHE_WARMER = "Nightly order export", "Cache warmer"
USER_AGENT = "demo-shop/2.14 (portal demo)"


def _latency(rng: np.random.Generator, median_ms: float) -> float:
    return round(median_ms * math.exp(0.3 * rng.standard_normal()), 1)


def check_outcome(name: str, moment: datetime, scenario: Scenario, rng: np.random.Generator) -> Outcome:
    """What the check `name` finds at `moment`."""
    if name == SHOP_API:
        if scenario.outage_start <= moment < scenario.outage_end:
            return Outcome(UNHEALTHY, "HTTP 503 from http://shop-api.internal/healthz", _latency(rng, 15))
        if scenario.incident_start <= moment < scenario.incident_end:
            return Outcome(DEGRADED, "answered in 2.4 s (slower than 1 s)", _latency(rng, 2400))
        return Outcome(HEALTHY, "HTTP 200", _latency(rng, 38))
    if name == PAYMENTS:
        if moment >= scenario.webhooks_failing_since:
            return Outcome(DEGRADED, "provider status: webhook deliveries failing (502)", _latency(rng, 210))
        return Outcome(HEALTHY, "API reachable", _latency(rng, 120))
    if name == SEARCH_INDEX:
        if moment >= scenario.search_slow_since:
            return Outcome(DEGRADED, "reindex running: queries use the cold index", _latency(rng, 95))
        return Outcome(HEALTHY, "index up to date", _latency(rng, 12))
    return Outcome(UNHEALTHY, f"no demo check named {name!r}")


def _live(name: str) -> Outcome:
    now = timezone.now()
    return check_outcome(name, now, Scenario.around(now), np.random.default_rng())


# The custom checks' callables (config "path"), run by the health sweep like any custom check.
def shop_api(*, check, **kwargs) -> Outcome:
    return _live(SHOP_API)


def payment_provider(*, check, **kwargs) -> Outcome:
    return _live(PAYMENTS)


def search_index(*, check, **kwargs) -> Outcome:
    return _live(SEARCH_INDEX)


# check name -> (name in HEALTH_CUSTOM_CHECKS, the callable it must be registered as, critical)
CUSTOM = {
    SHOP_API: ("demo_shop_api", "portal.demo.health.shop_api", True),
    PAYMENTS: ("demo_payment_provider", "portal.demo.health.payment_provider", False),
    SEARCH_INDEX: ("demo_search_index", "portal.demo.health.search_index", False),
}
HEARTBEATS = {
    NIGHTLY_EXPORT: {"cron": "30 2 * * *", "grace_seconds": 3600, "interval_seconds": 900},
    CACHE_WARMER: {"period_seconds": 300, "grace_seconds": 120},
}


@dataclass(frozen=True)
class Ping:
    at: datetime
    kind: str
    body: str = ""


def _ticks(since: datetime, until: datetime, step: timedelta = INTERVAL) -> list[datetime]:
    count = int((until - since) / step)
    return [since + i * step for i in range(count + 1) if since + i * step < until]


def _nightly_pings(since: datetime, until: datetime, rng: np.random.Generator) -> list[Ping]:
    pings = []
    day = since.astimezone(UTC).replace(hour=2, minute=30, second=0, microsecond=0)  # the cron is UTC
    failed_night = (until - timedelta(days=4)).astimezone(UTC).date()
    while day < until:
        if day >= since:
            started = day + timedelta(seconds=int(rng.integers(1, 20)))
            pings.append(Ping(started, PingKind.START))
            if day.date() == failed_night:
                error = 'psycopg.OperationalError: connection to server at "db" failed: timeout expired'
                pings.append(Ping(started + timedelta(minutes=7), PingKind.FAIL, error))
            else:
                took = timedelta(minutes=9 + float(rng.uniform(0, 4)))
                pings.append(Ping(started + took, PingKind.SUCCESS, "exported orders"))
        day += timedelta(days=1)
    return [p for p in pings if p.at < until]


def _warmer_pings(since: datetime, until: datetime, scenario: Scenario, rng: np.random.Generator) -> list[Ping]:
    """Every five minutes; during the incident one run hung (started, never finished)."""
    hung_from = scenario.incident_start + timedelta(minutes=12)
    hung_until = scenario.incident_end + timedelta(minutes=5)
    pings, hung = [], False
    for tick in _ticks(since, until):
        at = tick + timedelta(seconds=float(rng.uniform(2, 8)))
        if hung_from <= tick < hung_until:
            if not hung:
                pings.append(Ping(at, PingKind.START))
                hung = True
            continue
        pings.append(Ping(at, PingKind.SUCCESS))
    return [p for p in pings if p.at < until]


FIELD = {PingKind.SUCCESS: "last_ping_at", PingKind.START: "last_start_at", PingKind.FAIL: "last_fail_at"}


def _changes(results: list[tuple]) -> list[tuple]:
    """The runs of one check whose status differs from the run before: what the runner stores."""
    kept, last = [], None
    for row in results:
        if row[1] != last:
            kept.append(row)
            last = row[1]
    return kept


def _last_run(check: HealthCheck, row: tuple) -> None:
    """The check's `last_*` columns, as the runner leaves them after the run `row`."""
    _, status, latency, message, at = row
    fields = {"last_status": status, "last_latency_ms": latency, "last_message": message, "last_checked_at": at}
    HealthCheck.objects.filter(pk=check.pk).update(**fields)
    for name, value in fields.items():
        setattr(check, name, value)


def _heartbeat_results(check: HealthCheck, pings: list[Ping], since: datetime, until: datetime) -> list[tuple]:
    """The status the sweep would have found at each run, from the pings before that moment."""
    beat = beat_of(check)
    results, index = [], 0
    for tick in _ticks(since, until, timedelta(seconds=check.interval_seconds)):
        while index < len(pings) and pings[index].at <= tick:
            beat = replace(beat, **{FIELD[pings[index].kind]: pings[index].at})
            index += 1
        status, message = heartbeat_status(beat, now=tick)
        results.append((check.pk, status, None, message, tick))
    return results


def _create(service: Service, name: str, fields: dict, created_at: datetime) -> tuple[HealthCheck, bool]:
    defaults = {"interval_seconds": int(INTERVAL.total_seconds()), "created_at": created_at, **fields}
    return HealthCheck.objects.get_or_create(service=service, name=name, defaults=defaults)


def checks_install(*, service: Service, now: datetime, scenario: Scenario, rng: np.random.Generator) -> dict:
    """Create the checks that do not exist yet, each with a week of history: its status changes,
    and the custom checks' latency as the runner's metric. Idempotent."""
    since = now - HISTORY
    results, pings, made, latency = [], [], [], {}
    for name, (registered_as, path, critical) in CUSTOM.items():
        if registered().get(registered_as) != path:
            continue  # not registered in this install: the sweep could not run it
        fields = {"kind": CheckKind.CUSTOM, "critical": critical, "config": {"name": registered_as}}
        check, created = _create(service, name, fields, since)
        if created:
            made.append(check)
            runs = []
            for tick in _ticks(since, now):
                outcome = check_outcome(name, tick, scenario, rng)
                runs.append((check.pk, outcome.status, outcome.latency_ms, outcome.message, tick))
            results += _changes(runs)
            _last_run(check, runs[-1])
            times = np.array([row[4].timestamp() for row in runs])
            latency[(LATENCY_METRIC, (("check_id", str(check.pk)),))] = (times, np.array([row[2] for row in runs]))
    for name, fields in HEARTBEATS.items():
        check, created = _create(service, name, {"kind": CheckKind.HEARTBEAT, **fields}, since)
        if not created:
            continue
        made.append(check)
        history = (
            _nightly_pings(since, now, rng) if name == NIGHTLY_EXPORT else _warmer_pings(since, now, scenario, rng)
        )
        runs = _heartbeat_results(check, history, since, now)
        results += _changes(runs)
        _last_run(check, runs[-1])
        pings += [(check.pk, p.kind, p.at, USER_AGENT, p.body) for p in history]
        last = {}
        for ping in history:
            last[FIELD[ping.kind]] = ping.at
        HealthCheck.objects.filter(pk=check.pk).update(**last)
    rows_insert(HealthCheckResult, ("health_check", "status", "latency_ms", "message", "created_at"), results)
    rows_insert(HeartbeatPing, ("health_check", "kind", "created_at", "user_agent", "body"), pings)
    if latency:
        metric_kinds({LATENCY_METRIC: MetricKind.HISTOGRAM}, {LATENCY_METRIC: run_latency.help})
        series_history_write(service=portal_service(), now=now, series=latency)
    stored = len(results)
    for check in made:
        check.refresh_from_db()
        stored += health_check_run(check=check, now=now).pk is not None  # the latest run, by the real runner
    return {"checks": len(made), "status changes": stored, "pings": len(pings)}


def heartbeats_live(*, service: Service, now: datetime) -> int:
    """Ping the demo heartbeats whose job would have run by now, as the jobs themselves do."""
    sent = 0
    checks = HealthCheck.objects.filter(service=service, kind=CheckKind.HEARTBEAT, name__in=list(HEARTBEATS))
    for check in checks:
        beat: Beat = beat_of(check)
        if check.last_ping_at is not None and next_due(beat, check.last_ping_at) <= now:
            heartbeat_ping(check=check, kind=PingKind.SUCCESS, now=now, user_agent=USER_AGENT)
            sent += 1
    return sent
