"""Alert storms: many label sets firing in one evaluation are written in bulk, and the result is
exactly what firing them one by one writes (same alerts, events, deliveries, holds, escalation)."""

import contextlib
import threading
from datetime import timedelta

import pytest
from django.db import connection

from monitoring.alerting import evaluation, notify
from monitoring.alerting.conditions import fingerprint
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.lifecycle import (
    EVALUATOR,
    Firing,
    TransitionNotAllowed,
    alert_acknowledge,
    alert_fire,
    alert_resolve,
    alerts_fire,
    alerts_resolve,
)
from monitoring.alerting.models import Alert, AlertEvent, Delivery, MaintenanceWindow, RuleState
from monitoring.alerting.silences import silence_create
from monitoring.models import MetricSample
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory, EscalationPolicyFactory, EscalationStepFactory

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def world(db, users, service, other_service):
    """Rules with channels (one disabled, one email), escalation with an immediate step and a
    later one, a rule whose first step waits, a silence on some label sets and a maintenance
    window on one service: everything firing decides per alert."""
    primary, pager = ChannelFactory(name="primary"), ChannelFactory(name="pager")
    mail = ChannelFactory(name="mail", kind="email", url="", secret="", addresses=["oncall@example.com"])
    off = ChannelFactory(name="off", enabled=False)
    now_policy = EscalationPolicyFactory(name="on-call", repeat=1, repeat_after_minutes=30)
    EscalationStepFactory(policy=now_policy, order=0, wait_minutes=0, channels=[primary]).users.set([users["admin"]])
    EscalationStepFactory(policy=now_policy, order=1, wait_minutes=10, channels=[pager])
    later_policy = EscalationPolicyFactory(name="business hours")
    EscalationStepFactory(policy=later_policy, order=0, wait_minutes=5, channels=[primary])
    paging = AlertRuleFactory(name="paging", escalation_policy=now_policy)
    paging.channels.set([pager, mail, off])
    later = AlertRuleFactory(name="later", escalation_policy=later_policy, severity="warning")
    later.channels.set([pager])
    plain = AlertRuleFactory(name="plain", labels={"team": "web"})
    plain.channels.set([primary, pager])
    bare = AlertRuleFactory(name="bare")
    eu = [{"label": "zone", "op": "=~", "value": "eu-.*"}]
    silence_create(reason="eu maintenance", matchers=eu, ends_at=T0 + HOUR)
    MaintenanceWindow.objects.create(
        name="billing upgrade", service=other_service, starts_at=T0 - HOUR, ends_at=T0 + 2 * HOUR
    )
    return {"rules": [paging, later, plain, bare], "services": [service, other_service, None]}


def firings(world, count: int, *, start: int = 0) -> list[Firing]:
    made = []
    for i in range(start, start + count):
        rule = world["rules"][i % 4]
        service = world["services"][i % 3]
        labels = {"n": str(i), "zone": "eu-1" if i % 5 == 0 else "us-1"}
        if service is not None:
            labels["service"] = service.slug
        made.append(
            Firing(
                rule=rule,
                fingerprint=fingerprint(rule.pk, labels),
                labels={**rule.labels, **labels},
                value=float(i),
                summary=f"{rule.name} {i}",
                description=f"label set {i}",
                service=service,
            )
        )
    return made


def snapshot() -> dict:
    """Everything a firing writes, keyed by what does not depend on row ids."""
    found = {}
    for alert in Alert.objects.select_related("service"):
        events = alert.events.order_by("id")
        deliveries = alert.deliveries.select_related("channel", "user").order_by("id")
        columns = ("status", "labels", "severity", "summary", "description", "value", "created_at")
        columns += ("suppressed_until", "next_escalation_at", "escalation_step", "escalation_cycle")
        found[alert.fingerprint] = {
            "alert": [alert.rule.name, alert.service.slug if alert.service else None]
            + [getattr(alert, name) for name in columns],
            "events": [(e.kind, e.message, e.value, e.details, e.actor_id, e.created_at) for e in events],
            "deliveries": [
                (d.event, d.target_name, d.step, d.status, d.next_attempt_at, d.created_at) for d in deliveries
            ],
        }
    return found


def test_a_storm_writes_exactly_what_firing_one_by_one_writes(clock, world):
    storm = firings(world, 300)
    already = storm[7]
    alert_fire(**vars(already), now=T0 - MIN)  # open before the storm: returned, not duplicated
    results = alerts_fire(firings=[*storm, storm[3]], now=T0)  # a fingerprint twice in one batch
    assert len(results) == 301
    assert [created for _, created in results].count(True) == 299
    assert results[7][0].fingerprint == already.fingerprint and results[7][1] is False
    assert results[300][0].pk == results[3][0].pk and results[300][1] is False
    batch = snapshot()

    Alert.objects.all().delete()
    alert_fire(**vars(already), now=T0 - MIN)
    for firing in [*storm, storm[3]]:
        alert_fire(**vars(firing), now=T0)
    assert snapshot() == batch

    # The world really decided per alert: some held (silence, maintenance), some escalated at
    # once, some waiting for their first step, deliveries only to enabled channels.
    alerts = Alert.objects.all()
    assert alerts.count() == 300
    held = alerts.filter(suppressed_until__isnull=False)
    eu = [alert for alert in alerts if alert.labels["zone"] == "eu-1"]
    assert len(eu) == 60 and all(alert.suppressed_until for alert in eu)  # the silence
    assert held.filter(suppressed_until=T0 + 2 * HOUR).count() == 100  # billing: the window, longer
    assert not Delivery.objects.filter(alert__in=held).exists()
    assert not Delivery.objects.filter(channel__name="off").exists()
    assert alerts.filter(rule__name="paging", next_escalation_at=T0 + 10 * MIN, escalation_step=1).exists()
    assert alerts.filter(rule__name="later", next_escalation_at=T0 + 5 * MIN, escalation_step=0).exists()
    assert Delivery.objects.filter(event="escalation", step=0, user__username="admin").exists()
    assert AlertEvent.objects.filter(kind="suppressed").count() == held.count()


def test_a_storm_costs_the_same_queries_for_50_and_500_alerts(clock, world, django_assert_max_num_queries):
    with django_assert_max_num_queries(40) as small:
        assert sum(created for _, created in alerts_fire(firings=firings(world, 50), now=T0)) == 50
    with django_assert_max_num_queries(40) as large:
        assert sum(created for _, created in alerts_fire(firings=firings(world, 500, start=50), now=T0)) == 500
    assert len(large.captured_queries) == len(small.captured_queries)
    assert Delivery.objects.filter(alert__created_at=T0).count() > 500


def feed_series(sample, service, count: int, *, start: int = 0) -> None:
    for i in range(start, start + count):
        sample(service, "queue_depth", 250, T0 + timedelta(seconds=10), host=f"h{i}")


def test_an_evaluation_storm_costs_the_same_queries_for_50_and_500_label_sets(
    clock, sample, service, world, django_assert_max_num_queries
):
    policy = world["rules"][0].escalation_policy
    rule = AlertRuleFactory(name="queue", metric="queue_depth", window=MIN, escalation_policy=policy)
    rule.channels.set(world["rules"][0].channels.all())
    feed_series(sample, service, 50)
    clock.move_to(T0 + MIN)
    with django_assert_max_num_queries(60) as small:
        assert rules_evaluate().fired == 50
    Alert.objects.all().delete()
    RuleState.objects.all().delete()
    feed_series(sample, service, 450, start=50)
    with django_assert_max_num_queries(60) as large:
        assert rules_evaluate().fired == 500
    assert len(large.captured_queries) == len(small.captured_queries)
    assert RuleState.objects.filter(rule=rule, active_since=T0 + MIN).count() == 500
    assert Delivery.objects.filter(alert__rule=rule, event="trigger").count() == 1000  # pager and mail


def test_an_alert_opened_by_another_writer_during_a_storm_is_not_duplicated(clock, sample, service, monkeypatch):
    AlertRuleFactory(metric="queue_depth", window=MIN)
    feed_series(sample, service, 20)
    real = evaluation._Evaluator.__init__

    def load_then_race(self, *args, **kwargs):
        real(self, *args, **kwargs)  # the evaluator has loaded the open alerts: none
        labels = {"host": "h3", "service": "checkout"}  # a series' labels carry its service
        rule = args[0][0]
        alert_fire(rule=rule, fingerprint=fingerprint(rule.pk, labels), labels=labels, value=1.0, summary="other")

    monkeypatch.setattr(evaluation._Evaluator, "__init__", load_then_race)
    clock.move_to(T0 + MIN)
    report = rules_evaluate()
    assert report.errors == [] and report.fired == 19
    assert Alert.objects.count() == 20 and Alert.objects.filter(summary="other").count() == 1
    assert AlertEvent.objects.filter(kind="triggered").count() == 20


@pytest.mark.django_db(transaction=True)
def test_two_storms_at_once_open_each_alert_once(clock, world):
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once need PostgreSQL (SQLite serialises writers anyway)")
    storm = firings(world, 200)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def evaluator():
        try:
            barrier.wait()
            results.append(alerts_fire(firings=storm, now=T0))
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Alert.objects.count() == 200
    assert AlertEvent.objects.filter(kind="triggered").count() == 200
    created = [created for result in results for _, created in result]
    assert created.count(True) == 200
    pks = [{alert.pk for alert, _ in result} for result in results]
    assert pks[0] == pks[1]


def test_a_storm_queues_one_send_task_per_target_not_per_alert(
    clock, world, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(notify, "async_task", lambda func, ids: queued.append((func, ids)))
    monkeypatch.setattr(notify, "TASK_DELIVERIES", 40)
    with django_capture_on_commit_callbacks(execute=True):
        alerts_fire(firings=firings(world, 300), now=T0)
    targets = {}
    for func, ids in queued:
        assert func == "monitoring.alerting.tasks.deliveries_send" and 0 < len(ids) <= 40
        for delivery in Delivery.objects.filter(pk__in=ids):
            targets.setdefault(tuple(ids), set()).add(delivery.target_name)
    assert all(len(names) == 1 for names in targets.values())  # one target a task
    assert sorted(pk for _, ids in queued for pk in ids) == sorted(Delivery.objects.values_list("pk", flat=True))
    per_target = Delivery.objects.values("channel", "user").distinct().count()
    assert per_target <= len(queued) < per_target + Delivery.objects.count() // 40 + 1


def clear(results, users):
    """A storm's alerts as they stand when it clears: some acknowledged, some resolved by hand."""
    alerts = [alert for alert, _ in results]
    for alert in alerts[1::10]:
        alert_acknowledge(alert=alert, by=users["operator"], via="page", now=T0 + MIN)
    for alert in alerts[2::10]:
        alert_resolve(alert=alert, by=users["operator"], via="page", now=T0 + MIN)
    return alerts


def test_a_storm_clearing_resolves_exactly_as_one_by_one(clock, world, users):
    storm = firings(world, 300)
    alerts = clear(alerts_fire(firings=storm, now=T0), users)
    values = [float(-i) for i in range(len(alerts))]
    resolved = alerts_resolve(alerts=alerts, values=values, by=None, via=EVALUATOR, now=T0 + 2 * MIN)
    assert len(resolved) == 270  # the 30 resolved by hand are left as they are
    assert {alert.pk for alert in resolved} == {alert.pk for alert in alerts} - {a.pk for a in alerts[2::10]}
    batch = snapshot()

    Alert.objects.all().delete()
    alerts = clear(alerts_fire(firings=storm, now=T0), users)
    for alert, value in zip(alerts, values, strict=True):
        with contextlib.suppress(TransitionNotAllowed):
            alert_resolve(alert=alert, by=None, via=EVALUATOR, value=value, now=T0 + 2 * MIN)
    assert snapshot() == batch

    # Resolutions told the channels and people that heard the alert, unless a hold covers it now.
    told = Delivery.objects.filter(event="resolve")
    assert set(told.values_list("channel__name", flat=True)) == {"primary", "pager", "mail", None}
    assert told.filter(user__username="admin").exists()
    assert not told.filter(alert__labels__zone="eu-1").exists()
    assert Alert.objects.filter(status="resolved", value__lte=0, resolved_by=None).count() == 270


def test_a_storm_clearing_costs_the_same_queries_for_50_and_500_alerts(clock, world, django_assert_max_num_queries):
    small_storm = [alert for alert, _ in alerts_fire(firings=firings(world, 50), now=T0)]
    large_storm = [alert for alert, _ in alerts_fire(firings=firings(world, 500, start=50), now=T0)]
    with django_assert_max_num_queries(25) as small:
        assert len(alerts_resolve(alerts=small_storm, by=None, via=EVALUATOR, now=T0 + MIN)) == 50
    with django_assert_max_num_queries(25) as large:
        assert len(alerts_resolve(alerts=large_storm, by=None, via=EVALUATOR, now=T0 + MIN)) == 500
    assert len(large.captured_queries) == len(small.captured_queries)
    assert Delivery.objects.filter(event="resolve").count() > 500


def test_an_evaluation_where_a_storm_clears_costs_the_same_queries_for_50_and_500_label_sets(
    clock, sample, service, world, django_assert_max_num_queries
):
    rule = AlertRuleFactory(name="queue", metric="queue_depth", window=MIN)
    rule.channels.set(world["rules"][0].channels.all())
    counts = []
    for count in (50, 500):
        Alert.objects.all().delete()
        RuleState.objects.all().delete()
        MetricSample.objects.all().delete()
        feed_series(sample, service, count)
        clock.move_to(T0 + MIN)
        assert rules_evaluate().fired == count
        clock.move_to(T0 + 3 * MIN)  # no data in the window: every label set cleared
        with django_assert_max_num_queries(40) as queries:
            assert rules_evaluate().resolved == count
        counts.append(len(queries.captured_queries))
        assert Delivery.objects.filter(event="resolve").count() == 2 * count  # pager and mail
        clock.move_to(T0)
    assert counts[0] == counts[1]
