"""Running health checks: the one wrapper that times out, measures and records every kind,
and the per-minute sweep that claims due checks.

Each check runs in its own daemon thread joined with the check's timeout, so a kind that ignores
its timeout (a hung custom callable) costs one abandoned thread, never the sweep or other checks.
The sweep hands each due check to the task queue, so one slow check cannot delay the rest.
"""

import logging
import threading
import time
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from monitoring.healthchecks.kinds import KINDS, UNHEALTHY, Outcome
from monitoring.metrics import counter, histogram
from monitoring.models import HealthCheck, HealthCheckResult
from monitoring.models.checks import BOUNDED_FIELDS, MAX_INTERVAL_SECONDS

logger = logging.getLogger(__name__)
MAX_MESSAGE = 1000
SWEEP_LIMIT = 500

runs_total = counter(
    "portal_health_check_runs_total", "Health check runs by kind and status", labelnames=("kind", "status")
)
# Each run's latency, for the check page's chart: the metrics store rolls it up and prunes it,
# where a result row per run grew the history by a row a minute that said the same thing.
LATENCY_METRIC = "portal_health_check_run_ms"
run_latency = histogram(LATENCY_METRIC, "Latency of each health check run (ms)", labelnames=("check_id",))


def out_of_range(check: HealthCheck) -> str:
    """Why the check's numbers cannot be used (a row written around validation), or ''.
    Checked with the model's own maxima, so the bounds are the ones the admin and API apply; a
    value under a minimum (an old 30 s interval) still works and is only refused on the next edit."""
    for name in BOUNDED_FIELDS:
        value = getattr(check, name)
        if value is None:
            continue
        for validator in HealthCheck._meta.get_field(name).validators:
            if not isinstance(validator, MaxValueValidator):
                continue
            try:
                validator(value)
            except ValidationError as exc:
                return f"not run: {name} = {value!r} is out of range. {' '.join(exc.messages)} Edit the check."
    return ""


def check_execute(check: HealthCheck, *, now: datetime) -> Outcome:
    """Run one check with its timeout; never raises."""
    kind = KINDS.get(check.kind)
    if kind is None:
        return Outcome(UNHEALTHY, f"unknown kind {check.kind!r}")
    problem = out_of_range(check)
    if problem:
        return Outcome(UNHEALTHY, problem)
    if kind.inline:
        try:
            return kind.run(check, timeout=check.timeout_seconds, now=now)  # no network I/O to wait for
        except Exception as exc:  # e.g. a stored cron expression croniter can no longer read
            logger.exception("health check %s: %s evaluation failed", check.pk, check.kind)
            return Outcome(UNHEALTHY, f"could not be evaluated: {type(exc).__name__}: {exc}")
    box: dict = {}

    def target():
        try:
            box["outcome"] = kind.run(check, timeout=check.timeout_seconds)
        except Exception as exc:
            box["error"] = exc

    start = time.perf_counter()
    thread = threading.Thread(target=target, name=f"healthcheck-{check.pk}", daemon=True)
    thread.start()
    thread.join(check.timeout_seconds + 0.5)  # kinds apply the timeout themselves; this is the backstop
    elapsed = round((time.perf_counter() - start) * 1000, 3)
    if thread.is_alive():
        return Outcome(UNHEALTHY, f"timed out after {check.timeout_seconds:g} s", elapsed)
    if "error" in box:
        exc = box["error"]
        return Outcome(UNHEALTHY, f"{type(exc).__name__}: {exc}", elapsed)
    outcome = box["outcome"]
    if outcome.latency_ms is None:
        outcome.latency_ms = elapsed
    return outcome


def health_check_record(*, check: HealthCheck, outcome: Outcome, now: datetime) -> HealthCheckResult:
    """Copy a run's outcome onto the check (what lists, /health/ready and alerting read) and store
    a result row only when the status changed, like Healthchecks' flips: a check run every minute
    that finds the same status adds nothing to its history. Returns the stored row, or this run's
    outcome unsaved (pk None) when the status did not change."""
    message = outcome.message[:MAX_MESSAGE]
    status = outcome.status
    fields = {
        "last_status": status,
        "last_checked_at": now,
        "last_message": message,
        "last_latency_ms": outcome.latency_ms,
    }
    result = HealthCheckResult(
        health_check=check, status=status, latency_ms=outcome.latency_ms, message=message, created_at=now
    )
    rows = HealthCheck.objects.filter(pk=check.pk)
    # Each conditional UPDATE says whether the status changed, so of two runs finding the same new
    # status at once only one stores the change. The copy in memory says which to try first (one
    # query in the usual case); twice round, as another run may change the status in between.
    order = [(rows.filter(last_status=status), False), (rows.exclude(last_status=status), True)]
    if check.last_status != status:
        order.reverse()
    with transaction.atomic():
        for query, is_change in order * 2:
            if query.update(**fields):
                if is_change:
                    result.save(force_insert=True)
                break
    for name, value in fields.items():
        setattr(check, name, value)
    runs_total.inc(kind=check.kind, status=status)
    if outcome.latency_ms is not None:
        run_latency.observe(outcome.latency_ms, check_id=str(check.pk))
    return result


def health_check_run(*, check: HealthCheck, now: datetime | None = None) -> HealthCheckResult:
    now = now or timezone.now()
    return health_check_record(check=check, outcome=check_execute(check, now=now), now=now)


def _claim(check: HealthCheck, now: datetime) -> bool:
    """Move next_run_at forward only if nobody else did: two sweeps never run a check twice."""
    claimed = HealthCheck.objects.filter(pk=check.pk)
    claimed = claimed.filter(next_run_at=check.next_run_at) if check.next_run_at else claimed.filter(next_run_at=None)
    # Clamped: a row holding an out-of-range interval is still claimed (and reports itself).
    interval = min(max(check.interval_seconds or 0, 1), MAX_INTERVAL_SECONDS)
    return bool(claimed.update(next_run_at=now + timedelta(seconds=interval)))


def health_sweep(*, now: datetime | None = None) -> dict:
    """Claim every enabled check that is due; inline kinds (heartbeats, scrape targets) are
    evaluated here, the rest queued.
    A check that fails here is logged and marked on its row; the others still run."""
    now = now or timezone.now()
    due = (
        HealthCheck.objects.filter(enabled=True)
        .filter(Q(next_run_at__lte=now) | Q(next_run_at__isnull=True))
        .order_by("next_run_at")[:SWEEP_LIMIT]
    )
    counts = {"queued": 0, "evaluated": 0}
    for check in due:
        try:
            if not _claim(check, now):
                continue
            if getattr(KINDS.get(check.kind), "inline", False):
                health_check_run(check=check, now=now)
                counts["evaluated"] += 1
            else:
                async_task("monitoring.tasks.health_check_run", check.pk, task_name=f"health check {check.pk}")
                counts["queued"] += 1
        except Exception as exc:
            logger.exception("health sweep: check %s failed", check.pk)
            counts["failed"] = counts.get("failed", 0) + 1
            _mark_failed(check, exc, now=now)
    return counts


def _mark_failed(check: HealthCheck, exc: Exception, *, now: datetime) -> None:
    """Say on the check why the sweep could not run it (what lists and /health/ready show)."""
    try:
        health_check_record(
            check=check, outcome=Outcome(UNHEALTHY, f"sweep failed: {type(exc).__name__}: {exc}"), now=now
        )
    except Exception:
        logger.exception("health sweep: could not record the failure of check %s", check.pk)
