"""django-q2 entry point: the daily behaviour results (paths and next steps over the last 7 and
30 days, weekly retention over the last 8 weeks) of every service with recent events."""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from analytics.behaviour import compute
from analytics.models import UsageEvent
from analytics.models_behaviour import BehaviourResult
from portal.models import Service

log = logging.getLogger(__name__)

PATH_DAYS = (7, 30)
RETENTION_WEEKS = 8
KEEP_DAYS = 90  # stored results older than this (by period end) are deleted


def behaviour_daily(now: datetime | None = None) -> dict:
    """Compute and store the standard windows; one service's failure does not stop the others."""
    now = now or timezone.now()
    done, failed = 0, []
    recent = now - timedelta(days=max((*PATH_DAYS, RETENTION_WEEKS * 7)))
    for service in Service.objects.order_by("pk"):
        if not UsageEvent.objects.filter(service=service, time__gte=recent, time__lt=now).exists():
            continue
        try:
            done += behaviour_service_daily(service=service, now=now)
        except Exception:  # a bad service (or a timeout on it) must not cost the others their results
            log.exception("behaviour results of service %s failed", service.slug)
            failed.append(service.slug)
    pruned, _ = BehaviourResult.objects.filter(period_end__lt=now - timedelta(days=KEEP_DAYS)).delete()
    return {"stored": done, "failed": failed, "pruned": pruned}


def behaviour_service_daily(*, service, now: datetime) -> int:
    stored = 0
    kinds = BehaviourResult.Kind
    for days in PATH_DAYS:
        since, until = compute.day_window(days, now=now)
        params = compute.default_params(kinds.PATHS)
        _store(kinds.PATHS, service, since, until, params, now)
        stored += 1
    since, until = compute.retention_window(RETENTION_WEEKS, now=now)
    _store(kinds.RETENTION, service, since, until, compute.default_params(kinds.RETENTION), now)
    return stored + 1


def _store(kind, service, since, until, params, now):
    # The daily windows end at midnight, before `now`: result_compute stores them.
    compute.result_compute(kind=kind, service=service, since=since, until=until, params=params, now=now)
