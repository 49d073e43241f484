"""Turning a rule off or removing it: nothing evaluates its alerts any more, so close them here.

Without this an alert of a disabled (or deleted) rule would stay open for ever: the evaluator
only looks at enabled rules, and a deleted rule leaves its alerts with `rule=None`.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from monitoring.alerting.lifecycle import TransitionNotAllowed, alert_resolve
from monitoring.alerting.models import Alert, AlertRule, RuleState


def rule_alerts_close(
    *, rule: AlertRule, reason: str, by=None, via: str = "rule change", now: datetime | None = None
) -> int:
    """Resolve the rule's open alerts through `alert_resolve`, saying why, and forget its
    evaluation state: re-enabled later, a condition must hold for the full `for` again (a stale
    `active_since` would fire at once). Returns how many alerts were resolved."""
    now = now or timezone.now()
    resolved = 0
    with transaction.atomic():
        for pk in Alert.objects.open().filter(rule=rule).values_list("pk", flat=True):
            try:
                alert_resolve(alert=pk, by=by, now=now, message=reason, via=via)
                resolved += 1
            except TransitionNotAllowed:
                continue  # resolved meanwhile
        RuleState.objects.filter(rule=rule).delete()
    return resolved


def rule_disable(*, rule: AlertRule, by=None, via: str = "rule change", now: datetime | None = None) -> int:
    with transaction.atomic():
        AlertRule.objects.filter(pk=rule.pk).update(enabled=False, updated_at=now or timezone.now())
        rule.enabled = False
        return rule_alerts_close(rule=rule, reason="rule disabled", by=by, via=via, now=now)


def rule_delete(*, rule: AlertRule, by=None, via: str = "rule change", now: datetime | None = None) -> int:
    """Alerts outlive their rule (history is never deleted), resolved first."""
    with transaction.atomic():
        resolved = rule_alerts_close(rule=rule, reason=f"rule {rule.name!r} deleted", by=by, via=via, now=now)
        rule.delete()
    return resolved
