"""django-q2 entry points: load fresh state, call one service, safe to rerun."""

import logging

from django.utils import timezone
from django_q.tasks import async_task

from monitoring.alerting.escalation import escalation_sweep
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.lifecycle import suppression_sweep
from monitoring.alerting.notify import deliveries_due, deliveries_release_stale, delivery_send_isolated

log = logging.getLogger(__name__)


def evaluate_rules() -> str:
    return str(rules_evaluate())


def deliveries_send(ids: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pk in ids:
        status = delivery_send_isolated(delivery_id=pk)
        counts[status] = counts.get(status, 0) + 1
    return counts


def deliveries_sweep() -> int:
    """One task per channel (or user), so a slow or dead endpoint never delays the others.
    (With PORTAL_TASKS_SYNC, django-q2 runs each inline.)"""
    now = timezone.now()
    deliveries_release_stale(now=now)
    groups = deliveries_due(now=now)
    for ids in groups.values():
        async_task("monitoring.alerting.tasks.deliveries_send", ids)
    return len(groups)


def escalations_sweep() -> str:
    # Two sweeps in one schedule: one failing as a whole (its query, say) must not skip the other.
    escalated = _isolated(escalation_sweep)
    notified = _isolated(suppression_sweep)
    return f"{escalated} escalated, {notified} notified after suppression ended"


def _isolated(sweep) -> int | str:
    try:
        return sweep()
    except Exception as exc:
        log.exception("%s failed", sweep.__name__)
        return f"error ({type(exc).__name__})"
