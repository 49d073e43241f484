"""A check's history read from its results, which are stored only when the status changes."""

from datetime import datetime

from monitoring.healthchecks.status import UNHEALTHY
from monitoring.models import HealthCheck


def share_not_unhealthy(*, check: HealthCheck, since: datetime, until: datetime) -> float | None:
    """The share of [since, until) the check was not unhealthy, weighted by time (one row per
    change, so counting rows would say nothing). Before the first change on record the status is
    unknown: that part is left out. None when nothing is known."""
    results = check.results.order_by("created_at", "id").values_list("created_at", "status")
    status = (
        results.filter(created_at__lt=since).order_by("-created_at", "-id").values_list("status", flat=True).first()
    )
    changes = list(results.filter(created_at__gte=since, created_at__lt=until))
    if status is None and not changes:
        # No change on record: the status found by the last run has held (its flip was pruned).
        if not check.last_status or not check.last_checked_at:
            return None
        return 0.0 if check.last_status == UNHEALTHY else 1.0
    start = since if status is not None else changes[0][0]
    moment, down = start, 0.0
    for at, new in changes:
        if status == UNHEALTHY:
            down += (at - moment).total_seconds()
        status, moment = new, at
    if status == UNHEALTHY:
        down += (until - moment).total_seconds()
    total = (until - start).total_seconds()
    return None if total <= 0 else 1 - down / total
