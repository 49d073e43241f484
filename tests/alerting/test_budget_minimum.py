"""A budget is not judged on too few requests (min_requests, the rule's min_count): a quiet
hour's one slow request is no breach, and an alert resolves when traffic falls below it."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from monitoring.alerting.budgets import budget_save
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertRule, PerformanceBudget
from monitoring.alerting.models.rules import MAX_MIN_COUNT
from tests.alerting.conftest import T0

MIN = timedelta(minutes=1)
DURATION = "http_request_duration_seconds"


def slow_requests(sample, service, count: int, minute: int, *, status="2xx") -> None:
    for i in range(count):
        sample(service, DURATION, 2.0, T0 + minute * MIN + timedelta(seconds=1 + i % 50), route="/cart/",
               method="GET", status_class=status)  # fmt: skip


def test_a_latency_budget_waits_for_enough_requests(clock, sample, service):
    b = budget_save(budget=PerformanceBudget(service=service, kind="p95", limit=500, window=5 * MIN, min_requests=10))
    assert AlertRule.objects.get(pk=b.rule_id).min_count == 10
    slow_requests(sample, service, 9, minute=0)  # slow, but only 9 in the window
    clock.move_to(T0 + 1 * MIN)
    assert rules_evaluate().fired == 0
    slow_requests(sample, service, 1, minute=1)  # the 10th
    clock.move_to(T0 + 2 * MIN)
    assert rules_evaluate().fired == 1
    # The window moves past them: too few requests again, so the alert resolves (no value).
    clock.move_to(T0 + 7 * MIN)
    assert rules_evaluate().resolved == 1
    assert Alert.objects.get().status == "resolved"


def test_an_error_rate_budget_counts_all_requests_toward_the_minimum(clock, sample, service):
    budget_save(budget=PerformanceBudget(service=service, kind="error_rate", limit=10, window=5 * MIN, min_requests=5))
    slow_requests(sample, service, 3, minute=0, status="5xx")  # 100 % errors, 3 requests
    clock.move_to(T0 + 1 * MIN)
    assert rules_evaluate().fired == 0
    slow_requests(sample, service, 2, minute=1)  # 5 requests, 60 % errors
    clock.move_to(T0 + 2 * MIN)
    assert rules_evaluate().fired == 1
    assert Alert.objects.get().value == pytest.approx(0.6)


def test_without_a_minimum_every_window_is_judged(clock, sample, service):
    b = budget_save(budget=PerformanceBudget(service=service, kind="p50", limit=100, window=5 * MIN))
    assert b.min_requests == 0
    slow_requests(sample, service, 1, minute=0)
    clock.move_to(T0 + 1 * MIN)
    assert rules_evaluate().fired == 1


def test_the_minimum_is_bounded(service):
    with pytest.raises(ValidationError) as info:
        budget_save(budget=PerformanceBudget(service=service, kind="p95", limit=1, min_requests=MAX_MIN_COUNT + 1))
    assert "min_requests" in info.value.message_dict
