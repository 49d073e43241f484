"""The evaluator against real metric samples (monitoring's query layer), on a frozen clock."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.alerting import evaluation
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.lifecycle import alert_acknowledge, alert_resolve
from monitoring.alerting.models import Alert, RuleState
from monitoring.models import HealthCheck
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory

MIN = timedelta(minutes=1)


def feed(sample, service, value, *, start, minutes, name="http_latency_ms", **labels):
    for i in range(minutes):
        sample(service, name, value, start + i * MIN + timedelta(seconds=10), **labels)


def test_for_duration_keeps_the_alert_pending_until_it_has_held_long_enough(clock, sample, service):
    rule = AlertRuleFactory(for_duration=timedelta(minutes=3), window=timedelta(minutes=2))
    feed(sample, service, 250, start=T0, minutes=10)
    clock.move_to(T0 + 2 * MIN)
    report = rules_evaluate()
    assert (report.pending, report.fired) == (1, 0)
    state = RuleState.objects.get(rule=rule)
    assert state.active_since == T0 + 2 * MIN and state.value == 250
    clock.move_to(T0 + 4 * MIN)
    assert rules_evaluate().fired == 0  # held 2 of 3 minutes
    clock.move_to(T0 + 5 * MIN)
    report = rules_evaluate()
    assert report.fired == 1
    alert = Alert.objects.get()
    assert alert.status == "firing" and alert.value == 250
    assert alert.labels == {"service": service.slug}
    assert alert.service == service
    assert alert.events.get().kind == "triggered"


def test_a_blip_shorter_than_for_resets_pending(clock, sample, service):
    rule = AlertRuleFactory(for_duration=timedelta(minutes=3), window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=2)
    feed(sample, service, 10, start=T0 + 2 * MIN, minutes=1)
    feed(sample, service, 250, start=T0 + 3 * MIN, minutes=6)
    clock.move_to(T0 + 2 * MIN)
    rules_evaluate()
    clock.move_to(T0 + 3 * MIN)
    rules_evaluate()  # the minute at 10 clears the condition
    assert RuleState.objects.get(rule=rule).active_since is None
    clock.move_to(T0 + 4 * MIN)
    assert rules_evaluate().pending == 1  # pending again since 4m, not since 2m
    clock.move_to(T0 + 6 * MIN)
    assert rules_evaluate().fired == 0
    clock.move_to(T0 + 7 * MIN)
    assert rules_evaluate().fired == 1


def test_it_auto_resolves_when_the_condition_clears_and_stores_the_value(clock, sample, service):
    AlertRuleFactory(window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=3)
    feed(sample, service, 20, start=T0 + 3 * MIN, minutes=2)
    clock.move_to(T0 + 2 * MIN)
    assert rules_evaluate().fired == 1
    clock.move_to(T0 + 4 * MIN)
    assert rules_evaluate().resolved == 1
    alert = Alert.objects.get()
    assert alert.status == "resolved" and alert.value == 20 and alert.resolved_by is None
    assert [e.kind for e in alert.events.all()] == ["triggered", "resolved"]


def test_acknowledged_alerts_also_auto_resolve(clock, sample, service, users):
    AlertRuleFactory(window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=2)
    clock.move_to(T0 + MIN)
    rules_evaluate()
    alert_acknowledge(alert=Alert.objects.get(), by=users["operator"], via="page")
    clock.move_to(T0 + 5 * MIN)  # no data any more: the series vanished
    assert rules_evaluate().resolved == 1
    assert Alert.objects.get().status == "resolved"


def test_dedup_one_open_alert_per_rule_and_label_set(clock, sample, service):
    AlertRuleFactory(window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=5, route="/a")
    feed(sample, service, 300, start=T0, minutes=5, route="/b")
    for minute in (1, 2, 3):
        clock.move_to(T0 + minute * MIN)
        rules_evaluate()
    assert Alert.objects.count() == 2
    assert sorted(a.labels["route"] for a in Alert.objects.all()) == ["/a", "/b"]


def test_a_new_incident_after_resolution_is_a_new_alert(clock, sample, service):
    AlertRuleFactory(window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=2)
    feed(sample, service, 10, start=T0 + 2 * MIN, minutes=2)
    feed(sample, service, 250, start=T0 + 4 * MIN, minutes=2)
    for minute in (1, 3, 5):
        clock.move_to(T0 + minute * MIN)
        rules_evaluate()
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == ["resolved", "firing"]


def test_manual_resolve_while_still_broken_reopens_the_same_alert(clock, sample, service, users):
    AlertRuleFactory(window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=5)
    clock.move_to(T0 + MIN)
    rules_evaluate()
    alert_resolve(alert=Alert.objects.get(), by=users["operator"], via="page")
    clock.move_to(T0 + 2 * MIN)
    assert rules_evaluate().reopened == 1
    alert = Alert.objects.get()
    assert alert.status == "firing"
    assert alert.events.latest("id").kind == "reopened"


@pytest.mark.parametrize(
    ("aggregation", "comparison", "threshold", "fires"),
    [
        ("avg", "gt", 149, True),
        ("avg", "gt", 151, False),
        ("max", "gte", 200, True),
        ("min", "lt", 100.5, True),
        ("sum", "eq", 600, True),
        ("count", "eq", 4, True),
        ("p99", "gt", 190, True),
        ("p50", "lte", 100, False),
        ("rate", "gt", 1.5, True),  # 600 / 300 s = 2 per second
    ],
)
def test_aggregations(clock, sample, service, aggregation, comparison, threshold, fires):
    AlertRuleFactory(aggregation=aggregation, comparison=comparison, threshold=threshold)
    for i, value in enumerate((100, 100, 200, 200)):
        sample(service, "http_latency_ms", value, T0 + i * MIN + timedelta(seconds=5))
    clock.move_to(T0 + 5 * MIN)
    assert rules_evaluate().fired == int(fires)


def test_matchers_and_service_scope_pick_label_sets(clock, sample, service, other_service):
    AlertRuleFactory(name="latency /api", matchers=[{"label": "route", "op": "=~", "value": "/api/.*"}])
    AlertRuleFactory(name="checkout only", service=service)
    feed(sample, service, 250, start=T0, minutes=2, route="/api/orders")
    feed(sample, service, 250, start=T0, minutes=2, route="/home")
    feed(sample, other_service, 250, start=T0, minutes=2, route="/api/pay")
    clock.move_to(T0 + 2 * MIN)
    rules_evaluate()
    fired = sorted((a.rule.name, a.labels["service"], a.labels["route"]) for a in Alert.objects.all())
    assert fired == [
        ("checkout only", "checkout", "/api/orders"),
        ("checkout only", "checkout", "/home"),
        ("latency /api", "billing", "/api/pay"),
        ("latency /api", "checkout", "/api/orders"),
    ]


def test_queries_follow_distinct_metrics_not_rules(clock, sample, service):
    for metric in ("m_a", "m_b"):
        feed(sample, service, 5, start=T0, minutes=5, name=metric)
        for i in range(25):
            AlertRuleFactory(metric=metric, threshold=1000 + i)  # quiet: nothing fires
    clock.move_to(T0 + 5 * MIN)
    with CaptureQueriesContext(connection) as few:
        rules_evaluate()
    for metric in ("m_a", "m_b"):
        for i in range(25):
            AlertRuleFactory(metric=metric, threshold=2000 + i)
    with CaptureQueriesContext(connection) as many:
        assert rules_evaluate().rules == 100
    assert len(many) == len(few)  # 4x the rules, same queries
    assert len(few) <= 12


def test_a_quiet_minute_writes_nothing(clock, sample, service):
    AlertRuleFactory(window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=5)
    clock.move_to(T0 + MIN)
    rules_evaluate()
    clock.move_to(T0 + 2 * MIN)
    with CaptureQueriesContext(connection) as queries:
        rules_evaluate()
    writes = [q["sql"] for q in queries if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []


def test_critical_unhealthy_health_check_raises_and_resolves_an_alert(clock, service):
    AlertRuleFactory(name="Critical health check unhealthy", source="health_check", metric="", summary="")
    check = HealthCheck.objects.create(service=service, name="db", kind="database", critical=True)
    HealthCheck.objects.create(name="noncritical", kind="database", critical=False, last_status="unhealthy")
    HealthCheck.objects.filter(pk=check.pk).update(last_status="unhealthy", last_message="connection refused")
    assert rules_evaluate().fired == 1
    alert = Alert.objects.get()
    assert alert.labels == {"check": "db", "check_id": str(check.pk), "service": "checkout"}
    assert "connection refused" in alert.description
    assert alert.summary.startswith("Health check db is unhealthy")
    HealthCheck.objects.filter(pk=check.pk).update(last_status="healthy")
    clock.move_to(T0 + MIN)
    assert rules_evaluate().resolved == 1


def test_one_broken_rule_does_not_stop_the_others(clock, sample, service, monkeypatch):
    AlertRuleFactory(name="a", window=timedelta(minutes=1))
    AlertRuleFactory(name="b", window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=2)
    real = evaluation.alerts_fire

    def flaky(*, firings, now):
        if any(firing.rule.name == "a" for firing in firings):
            raise RuntimeError("boom")
        return real(firings=firings, now=now)

    monkeypatch.setattr(evaluation, "alerts_fire", flaky)
    clock.move_to(T0 + MIN)
    report = rules_evaluate()
    assert report.errors == ["RuntimeError: boom"]
    assert [a.rule.name for a in Alert.objects.all()] == ["b"]


def test_an_alert_resolved_by_someone_during_evaluation_is_not_an_error(clock, sample, service, monkeypatch, users):
    AlertRuleFactory(window=timedelta(minutes=1))
    feed(sample, service, 250, start=T0, minutes=1)
    clock.move_to(T0 + MIN)
    rules_evaluate()
    real = evaluation._Evaluator.__init__

    def load_then_race(self, *args, **kwargs):
        real(self, *args, **kwargs)
        alert_resolve(alert=Alert.objects.get(), by=users["operator"], via="page")  # after the evaluator loaded it

    monkeypatch.setattr(evaluation._Evaluator, "__init__", load_then_race)
    clock.move_to(T0 + 5 * MIN)
    report = rules_evaluate()
    assert report.errors == [] and report.resolved == 0
    assert Alert.objects.get().resolved_by == users["operator"]


def test_ok_states_of_vanished_label_sets_are_forgotten_after_a_day(clock, sample, service):
    rule = AlertRuleFactory(window=MIN)
    for host in ("gone", "steady"):
        feed(sample, service, 250, start=T0, minutes=1, host=host)
    feed(sample, service, 10, start=T0 + MIN, minutes=2, host="steady")
    feed(sample, service, 10, start=T0 + timedelta(hours=25), minutes=1, host="steady")
    clock.move_to(T0 + MIN)
    assert rules_evaluate().fired == 2
    clock.move_to(T0 + 2 * MIN)
    assert rules_evaluate().resolved == 2  # gone: no data; steady: below the threshold
    assert RuleState.objects.filter(rule=rule, active_since__isnull=True).count() == 2
    clock.move_to(T0 + timedelta(hours=25, seconds=30))
    rules_evaluate()
    # steady still sends data (its state is kept); gone has been silent for a day
    assert [s.labels["host"] for s in RuleState.objects.filter(rule=rule)] == ["steady"]
