"""Performance budgets: each is an alert rule the evaluator runs (grouped series, the 5xx ratio,
p75), firing and resolving on a frozen clock like any rule."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from monitoring.alerting.budgets import budget_delete, budget_save
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertRule, PerformanceBudget
from monitoring.requests import VITALS
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory

MIN = timedelta(minutes=1)
DURATION = "http_request_duration_seconds"


def request(sample, service, seconds, at, *, route="/orders/<int:pk>/", method="GET", status="2xx"):
    sample(service, DURATION, seconds, at, route=route, method=method, status_class=status)


def budget(service, **fields) -> PerformanceBudget:
    fields.setdefault("window", timedelta(minutes=5))
    return budget_save(budget=PerformanceBudget(service=service, **fields))


def test_a_latency_budget_fires_on_the_routes_p95_over_every_method_and_status_and_resolves(clock, sample, service):
    b = budget(service, route="/orders/<int:pk>/", kind="p95", limit=500)
    for minute in range(5):
        at = T0 + minute * MIN + timedelta(seconds=5)
        for i in range(18):
            request(sample, service, 0.1, at, method="GET" if i % 2 else "POST")
        request(sample, service, 0.9, at, status="5xx")  # the slow ones failed: still requests
        request(sample, service, 1.2, at, method="PUT", status="4xx")
        request(sample, service, 5.0, at, route="/other/")  # another route: not in this budget
    clock.move_to(T0 + 5 * MIN)
    report = rules_evaluate()
    assert report.fired == 1, report
    alert = Alert.objects.get()
    assert alert.rule == b.rule and alert.service == service
    assert alert.labels == {"service": service.slug, "route": "/orders/<int:pk>/", "budget": str(b.pk)}
    assert alert.value == pytest.approx(0.9, rel=0.02)  # p95 of 20 requests a minute: the 19th
    assert "over the budget of 500 ms" in alert.summary
    for minute in range(5, 11):
        for _ in range(20):
            request(sample, service, 0.05, T0 + minute * MIN + timedelta(seconds=5))
    clock.move_to(T0 + 11 * MIN)
    assert rules_evaluate().resolved == 1
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_an_error_rate_budget_is_the_share_of_5xx_requests(clock, sample, service):
    b = budget(service, kind="error_rate", limit=5)  # all routes: one label set for the service
    for minute in range(5):
        at = T0 + minute * MIN + timedelta(seconds=5)
        for i in range(9):
            request(sample, service, 0.1, at, route=f"/r{i % 3}/", status="2xx" if i % 4 else "4xx")
        request(sample, service, 0.1, at, route="/r1/", status="5xx")
    clock.move_to(T0 + 5 * MIN)
    assert rules_evaluate().fired == 1
    alert = Alert.objects.get()
    assert alert.value == pytest.approx(0.10)  # 5 of 50; 4xx are not errors of the service
    assert alert.labels == {"service": service.slug, "budget": str(b.pk)}
    assert "Error rate 10.00% over the budget of 5 %" in alert.summary
    for minute in range(5, 10):
        for i in range(20):
            request(sample, service, 0.1, T0 + minute * MIN + timedelta(seconds=5), route=f"/r{i % 3}/")
    clock.move_to(T0 + 10 * MIN)
    assert rules_evaluate().resolved == 1


def test_an_error_rate_budget_with_no_failures_holds_and_with_no_requests_has_no_value(clock, sample, service):
    budget(service, kind="error_rate", limit=1, route="/quiet/")
    budget(service, kind="error_rate", limit=1, route="/fine/")
    for minute in range(5):
        request(sample, service, 0.1, T0 + minute * MIN, route="/fine/")
    clock.move_to(T0 + 5 * MIN)
    report = rules_evaluate()
    assert report.fired == 0 and report.series == 1  # /quiet/ had no requests: no label set


def test_a_web_vital_budget_uses_the_p75(clock, sample, service):
    budget(service, kind="LCP", limit=2500, route="/shop/")
    for i in range(20):
        value = 4000 if i % 4 == 0 else 1000  # a quarter slow: p75 is still 1000
        sample(service, "web_vitals", value, T0 + timedelta(seconds=10 + i), route="/shop/", vital="LCP")
        sample(service, "web_vitals", 9000, T0 + timedelta(seconds=10 + i), route="/shop/", vital="FCP")
    clock.move_to(T0 + 2 * MIN)
    assert rules_evaluate().fired == 0
    for i in range(20):
        sample(service, "web_vitals", 3000, T0 + 2 * MIN + timedelta(seconds=i), route="/shop/", vital="LCP")
    clock.move_to(T0 + 3 * MIN)
    assert rules_evaluate().fired == 1
    assert Alert.objects.get().value == pytest.approx(3000, rel=0.02)


def test_turning_a_budget_off_resolves_its_alert_and_deleting_it_removes_its_rule(clock, sample, service):
    b = budget(service, kind="p50", limit=100)
    for minute in range(3):
        request(sample, service, 1.0, T0 + minute * MIN)
    clock.move_to(T0 + 3 * MIN)
    assert rules_evaluate().fired == 1
    b.enabled = False
    budget_save(budget=b)
    alert = Alert.objects.get()
    assert alert.status == "resolved" and not AlertRule.objects.get(pk=b.rule_id).enabled
    b.enabled, b.limit = True, 2000
    budget_save(budget=b)
    rule = AlertRule.objects.get(pk=b.rule_id)
    assert rule.enabled and rule.threshold == 2.0 and "2000" in rule.name
    assert rules_evaluate().fired == 0
    rule_id = b.rule_id
    budget_delete(budget=b)
    assert not AlertRule.objects.filter(pk=rule_id).exists()
    assert not PerformanceBudget.objects.exists()


def test_budget_limits_and_routes_are_bounded(service):
    with pytest.raises(ValidationError) as caught:
        budget(service, kind="error_rate", limit=101)
    assert "limit" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        budget(service, kind="p95", limit=-1)
    assert "limit" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        budget(service, kind="p95", limit=100, route="orders/")
    assert "route" in caught.value.message_dict
    with pytest.raises(ValidationError):
        budget(service, kind="p95", limit=100, window=timedelta(days=2))
    assert not AlertRule.objects.exists()  # nothing half-written


def test_every_web_vital_has_a_budget_kind():
    assert set(VITALS) <= {value for value, _ in PerformanceBudget._meta.get_field("kind").choices}


def test_a_ratio_rule_needs_a_count_like_aggregation_and_a_grouping(db):
    rule = AlertRuleFactory.build(ratio_matchers=[{"label": "status_class", "op": "=", "value": "5xx"}])
    rule.aggregation = "p95"
    rule.group_by = ["service"]
    with pytest.raises(ValidationError) as caught:
        rule.clean()
    assert "aggregation" in caught.value.message_dict
    rule.aggregation, rule.group_by = "count", []
    with pytest.raises(ValidationError) as caught:
        rule.clean()
    assert "group_by" in caught.value.message_dict
    rule.group_by = ["service", "service"]
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert "group_by" in caught.value.message_dict


def test_a_plain_ratio_rule_per_route(clock, sample, service):
    AlertRuleFactory(
        metric=DURATION,
        aggregation="count",
        group_by=["route"],
        ratio_matchers=[{"label": "status_class", "op": "=~", "value": "4xx|5xx"}],
        comparison="gte",
        threshold=0.5,
    )
    for status in ("2xx", "4xx", "5xx", "5xx"):
        request(sample, service, 0.1, T0, route="/bad/", status=status)
    request(sample, service, 0.1, T0, route="/good/")
    clock.move_to(T0 + MIN)
    report = rules_evaluate()
    assert report.series == 2 and report.fired == 1
    alert = Alert.objects.get()
    assert alert.labels == {"route": "/bad/"} and alert.value == pytest.approx(0.75)
    assert "by (route)" in alert.rule.condition_text
