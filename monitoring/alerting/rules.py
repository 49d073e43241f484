"""Turning a rule off or removing it: nothing evaluates its alerts any more, so close them here.

Without this an alert of a disabled (or deleted) rule would stay open for ever: the evaluator
only looks at enabled rules, and a deleted rule leaves its alerts with `rule=None`. Every way of
disabling a rule (API, admin form and action, rule builder, the evaluator's sweep of rules
disabled behind its back) calls `rule_disable`; none re-implements it.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from monitoring.alerting.lifecycle import TransitionNotAllowed, alert_resolve
from monitoring.alerting.models import Alert, AlertRule, RuleState

DISABLED = "rule disabled"


def _alerts_close(*, rule: AlertRule, by, via: str, reason: str, now: datetime) -> int:
    """Resolve the rule's open alerts through `alert_resolve`, saying why, and forget its
    evaluation state: re-enabled later, a condition must hold for the full `for` again (a stale
    `active_since` would fire at once). Call inside the caller's transaction."""
    resolved = 0
    for pk in Alert.objects.open().filter(rule=rule).values_list("pk", flat=True):
        try:
            alert_resolve(alert=pk, by=by, via=via, reason=reason, now=now)
            resolved += 1
        except TransitionNotAllowed:
            continue  # resolved meanwhile
    RuleState.objects.filter(rule=rule).delete()
    return resolved


def rule_disable(*, rule: AlertRule, by, via: str, reason: str | None = None, now: datetime | None = None) -> int:
    """Turn a rule off and resolve its open alerts, in one transaction: never a disabled rule
    whose alerts stay open. Callers that save a form first (where `enabled` was unticked) call
    it inside the same transaction; it also closes what a rule already disabled left open.
    Returns how many alerts were resolved."""
    now = now or timezone.now()
    with transaction.atomic():
        AlertRule.objects.select_for_update().filter(pk=rule.pk, enabled=True).update(enabled=False, updated_at=now)
        rule.enabled = False
        return _alerts_close(rule=rule, by=by, via=via, reason=reason or DISABLED, now=now)


def rule_delete(*, rule: AlertRule, by, via: str, reason: str | None = None, now: datetime | None = None) -> int:
    """Alerts outlive their rule (history is never deleted), resolved first."""
    now = now or timezone.now()
    with transaction.atomic():
        resolved = _alerts_close(rule=rule, by=by, via=via, reason=reason or f"rule {rule.name!r} deleted", now=now)
        rule.delete()
    return resolved
