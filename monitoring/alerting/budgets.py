"""Saving and deleting performance budgets, each with the alert rule that evaluates it.

A budget is a rule the evaluator already understands (monitoring.alerting.evaluation):
- latency: p50/p95/p99 of `http_request_duration_seconds` (limit in ms, threshold in seconds);
- error rate: count of the requests with status_class 5xx / count of all requests (a ratio
  rule; a request that raised is recorded as 5xx), limit in percent, threshold a fraction;
- a web vital: p75 of `web_vitals{vital=...}`.
Series are merged per service (all routes) or per service and route (one route), whatever
their method or status, so "p95 of /orders/" means every request to it.

The budget and its rule change in one transaction: never a budget without its rule, or a rule
left behind. Turning a budget off or deleting it resolves its open alerts (rule_disable,
rule_delete), like any rule.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from monitoring.alerting.models import AlertRule, BudgetKind, Comparison, PerformanceBudget
from monitoring.alerting.models.budgets import LATENCY
from monitoring.alerting.rules import rule_delete, rule_disable
from monitoring.requests import REQUEST_DURATION, WEB_VITALS

VIA = "budget"


def _rule_fields(budget: PerformanceBudget) -> dict:
    route = [{"label": "route", "op": "=", "value": budget.route}] if budget.route else []
    group_by = ["service", "route"] if budget.route else ["service"]
    where = f"{budget.service.slug} {budget.route or 'all routes'}"
    fields = {
        "description": f"Managed by performance budget #{budget.pk}: edit the budget, not this rule.",
        "service": budget.service,
        "group_by": group_by,
        "ratio_matchers": [],
        "window": budget.window,
        "min_count": budget.min_requests,
        "comparison": Comparison.GT,
        "name": f"Budget #{budget.pk}: {str(budget)[:150]}",  # what alerts and notifications show
        "for_duration": timedelta(0),  # the window already smooths
        "severity": budget.severity,
        "labels": {"budget": str(budget.pk)},
    }
    if budget.kind in LATENCY:
        return fields | {
            "metric": REQUEST_DURATION,
            "matchers": route,
            "aggregation": budget.kind,
            "threshold": budget.limit / 1000.0,
            "summary": f"{budget.kind} latency {{value:.3f}} s over the budget of {budget.limit:g} ms ({where})",
        }
    if budget.kind == BudgetKind.ERROR_RATE:
        return fields | {
            "metric": REQUEST_DURATION,
            "matchers": route,
            "ratio_matchers": [{"label": "status_class", "op": "=", "value": "5xx"}],
            "aggregation": "count",
            "threshold": budget.limit / 100.0,
            "summary": f"Error rate {{value:.2%}} over the budget of {budget.limit:g} % ({where})",
        }
    unit = "" if budget.kind == BudgetKind.CLS else " ms"
    return fields | {
        "metric": WEB_VITALS,
        "matchers": [*route, {"label": "vital", "op": "=", "value": budget.kind}],
        "aggregation": "p75",
        "threshold": budget.limit,
        "summary": f"{budget.kind} p75 {{value:.4g}}{unit} over the budget of {budget.limit:g}{unit} ({where})",
    }


def budget_save(*, budget: PerformanceBudget, by=None, now: datetime | None = None) -> PerformanceBudget:
    """Validate and save the budget and create or update its rule, in one transaction. A budget
    turned off disables its rule (its open alerts are resolved)."""
    now = now or timezone.now()
    budget.full_clean()
    with transaction.atomic():
        budget.save()
        fields = _rule_fields(budget)
        rule = AlertRule.objects.select_for_update().filter(pk=budget.rule_id).first() if budget.rule_id else None
        if rule is None:
            rule = AlertRule(enabled=budget.enabled, **fields)
            rule.full_clean()
            rule.save()
            budget.rule = rule
            budget.save(update_fields=["rule"])
        else:
            for name, value in fields.items():
                setattr(rule, name, value)
            rule.full_clean()
            if budget.enabled:
                rule.enabled = True
            rule.save()
        if not budget.enabled and rule.enabled:
            rule_disable(rule=rule, by=by, via=VIA, reason="budget disabled", now=now)
    return budget


def budget_delete(*, budget: PerformanceBudget, by=None, now: datetime | None = None) -> int:
    """Delete the budget and its rule; its open alerts are resolved first. Returns how many."""
    with transaction.atomic():
        resolved = 0
        if budget.rule_id:
            rule = AlertRule.objects.filter(pk=budget.rule_id).first()
            if rule is not None:
                resolved = rule_delete(rule=rule, by=by, via=VIA, reason="budget deleted", now=now)
        budget.delete()
    return resolved
