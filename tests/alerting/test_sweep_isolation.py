"""A row that somehow holds an out-of-range value, or fails for any reason, never stops a sweep
for the other rows (issue #9): an escalation wait of 2**40 minutes stopped the escalation sweep,
and the suppression sweep that runs after it in the same task, for everyone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.alerting import escalation, evaluation, lifecycle, notify, suppression, tasks
from monitoring.alerting.escalation import escalation_sweep
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.events import SWEEP_RETRY
from monitoring.alerting.lifecycle import suppression_sweep
from monitoring.alerting.models import (
    Alert,
    AlertRule,
    Delivery,
    EscalationPolicy,
    EscalationStep,
    MaintenanceWindow,
)
from monitoring.alerting.notify import deliveries_sweep, notifications_queue
from monitoring.alerting.silences import silence_create
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory, EscalationPolicyFactory, EscalationStepFactory
from tests.support import on_postgres

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
HUGE = 2**40


def storable(value: int) -> int:
    """The reported number where the column holds it (SQLite keeps 64-bit integers); PostgreSQL's
    integer column stops at 2**31 - 1, which is still far past every bound."""
    return min(value, 2**31 - 1) if on_postgres() else value


AGES = timedelta(days=100_000)  # about the longest duration a database column can hold


@pytest.fixture
def two_policies(db):
    """Two rules escalating at step 2 after 10 minutes; `bad`'s wait is then overwritten."""
    rules = {}
    for name in ("bad", "good"):
        policy = EscalationPolicyFactory(name=name)
        EscalationStepFactory(policy=policy, order=0, wait_minutes=0, channels=[ChannelFactory(name=f"{name} 1")])
        EscalationStepFactory(policy=policy, order=1, wait_minutes=10, channels=[ChannelFactory(name=f"{name} 2")])
        EscalationStepFactory(policy=policy, order=2, wait_minutes=10, channels=[ChannelFactory(name=f"{name} 3")])
        rules[name] = AlertRuleFactory(name=name, escalation_policy=policy)
    return rules


def escalated_to():
    return sorted(d.channel.name for d in Delivery.objects.filter(event="escalation").select_related("channel"))


def test_a_huge_escalation_wait_does_not_stop_either_sweep(clock, make_alert, two_policies):
    bad, good = make_alert(rule=two_policies["bad"]), make_alert(rule=two_policies["good"])
    # Written around validation (a shell, an old row): the wait of the bad policy's last step.
    EscalationStep.objects.filter(policy__name="bad", order=2).update(wait_minutes=storable(HUGE))
    EscalationPolicy.objects.filter(name="bad").update(repeat=storable(HUGE), repeat_after_minutes=storable(HUGE))
    # A third alert, silenced until T0 + 10 min, must notify when its silence ends in the same run.
    held_rule = AlertRuleFactory(name="held")
    held_rule.channels.set([ChannelFactory(name="held pager")])
    silence_create(reason="deploy", rule=held_rule, ends_at=T0 + 10 * MIN)
    held = make_alert(rule=held_rule)
    clock.move_to(T0 + 10 * MIN)
    assert tasks.escalations_sweep() == "2 escalated, 1 notified after suppression ended"
    assert escalated_to() == ["bad 1", "bad 2", "good 1", "good 2"]
    bad.refresh_from_db()
    assert bad.next_escalation_at == T0 + 10 * MIN + timedelta(days=7)  # clamped to the bound
    good.refresh_from_db()
    assert good.next_escalation_at == T0 + 20 * MIN
    assert Delivery.objects.filter(alert=held, event="trigger").count() == 1


def test_an_alert_that_fails_to_escalate_is_marked_retried_later_and_the_others_go_on(
    clock, make_alert, two_policies, monkeypatch, caplog
):
    bad = make_alert(rule=two_policies["bad"])
    make_alert(rule=two_policies["good"])
    real = escalation._run_due

    def broken(alert, steps, *, now):
        if alert.pk == bad.pk:
            raise OverflowError("date value out of range")
        return real(alert, steps, now=now)

    monkeypatch.setattr(escalation, "_run_due", broken)
    clock.move_to(T0 + 10 * MIN)
    assert escalation_sweep() == 1
    assert escalated_to() == ["bad 1", "good 1", "good 2"]
    assert f"escalation sweep: alert {bad.pk} failed" in caplog.text
    bad.refresh_from_db()
    assert bad.next_escalation_at == T0 + 10 * MIN + SWEEP_RETRY  # retried, not every minute
    failure = bad.events.get(kind="notify_failed")
    assert failure.message == "escalation failed: OverflowError: date value out of range"
    clock.move_to(T0 + 10 * MIN + SWEEP_RETRY)
    assert escalation_sweep() == 0
    assert bad.events.filter(kind="notify_failed").count() == 1  # said once, not at every retry
    monkeypatch.setattr(escalation, "_run_due", real)
    clock.move_to(T0 + 20 * MIN + SWEEP_RETRY)
    assert escalation_sweep() == 2  # fixed: it escalates again
    assert "bad 2" in escalated_to()


def test_an_alert_that_fails_to_unsuppress_is_retried_and_the_others_notify(clock, make_alert, monkeypatch):
    rules = [AlertRuleFactory(name=name) for name in ("bad", "good")]
    for rule in rules:
        rule.channels.set([ChannelFactory(name=f"{rule.name} pager")])
        silence_create(reason="deploy", rule=rule, ends_at=T0 + HOUR)
    bad, good = (make_alert(rule=rule) for rule in rules)
    real = lifecycle._announce

    def broken(alert, **kwargs):
        if alert.pk == bad.pk:
            raise RuntimeError("boom")
        return real(alert, **kwargs)

    monkeypatch.setattr(lifecycle, "_announce", broken)
    clock.move_to(T0 + HOUR)
    assert suppression_sweep() == 1
    assert Delivery.objects.filter(alert=good, event="trigger").count() == 1
    bad.refresh_from_db()
    assert bad.suppressed_until == T0 + HOUR + SWEEP_RETRY  # still held, tried again later
    assert bad.events.filter(kind="notify_failed").count() == 1
    monkeypatch.setattr(lifecycle, "_announce", real)
    clock.move_to(T0 + HOUR + SWEEP_RETRY)
    assert suppression_sweep() == 1
    assert Delivery.objects.filter(alert=bad, event="trigger").count() == 1


def test_one_sweep_failing_as_a_whole_does_not_skip_the_other(monkeypatch, caplog):
    def down(**kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(tasks, "escalation_sweep", down)
    monkeypatch.setattr(tasks, "suppression_sweep", lambda: 3)
    assert tasks.escalations_sweep() == "error (ConnectionError) escalated, 3 notified after suppression ended"
    assert "down failed" in caplog.text  # logged under the sweep's function name


def test_a_maintenance_window_that_cannot_be_evaluated_holds_nothing(clock, make_alert, service, caplog):
    rule = AlertRuleFactory(name="loud")
    rule.channels.set([ChannelFactory(name="pager")])
    window = MaintenanceWindow.objects.create(name="odd", starts_at=T0 - HOUR, cron="0 * * * *", duration=HOUR)
    # A recurring window ending at the end of the calendar: its occurrence end overflows a date.
    MaintenanceWindow.objects.filter(pk=window.pk).update(ends_at=T0.replace(year=9999, month=12, day=31))
    MaintenanceWindow.objects.filter(pk=window.pk).update(duration=AGES)
    alert = make_alert(rule=rule)
    assert Delivery.objects.filter(alert=alert, event="trigger").count() == 1  # notified, not stuck
    assert f"maintenance window {window.pk} could not be evaluated" in caplog.text


def test_a_maintenance_window_error_is_isolated_from_the_others(clock, make_alert, service, monkeypatch):
    rule = AlertRuleFactory(name="loud")
    broken = MaintenanceWindow.objects.create(name="broken", starts_at=T0 - HOUR, ends_at=T0 + HOUR)
    MaintenanceWindow.objects.create(name="fine", starts_at=T0 - HOUR, ends_at=T0 + 2 * HOUR)
    real = MaintenanceWindow.active_until

    def flaky(self, now):
        if self.pk == broken.pk:
            raise OverflowError("date value out of range")
        return real(self, now)

    monkeypatch.setattr(MaintenanceWindow, "active_until", flaky)
    hold = suppression.suppression_for(make_alert(rule=rule), now=T0)
    assert hold is not None and hold.until == T0 + 2 * HOUR


def test_a_delivery_that_breaks_after_its_claim_is_marked_retried_and_the_others_are_sent(
    make_alert, monkeypatch, caplog
):
    alert = make_alert()
    channels = [ChannelFactory(name=name, kind="email", addresses=["ops@example.com"]) for name in ("bad", "good")]
    now = timezone.now()
    bad, good = (notifications_queue(alert=alert, event="trigger", channels=[c], now=now)[0] for c in channels)
    real = notify._stale

    def broken(delivery):
        if delivery.pk == bad.pk:
            raise AttributeError("'NoneType' object has no attribute 'status'")
        return real(delivery)

    monkeypatch.setattr(notify, "_stale", broken)
    assert deliveries_sweep(now=now) == {"pending": 1, "sent": 1}
    assert f"delivery {bad.pk}: could not be processed" in caplog.text
    bad.refresh_from_db()
    # Not left "sending" for the stale-claim timeout: a failed attempt, retried with backoff.
    assert (bad.status, bad.attempts) == ("pending", 1) and bad.next_attempt_at > now
    assert bad.last_error == "AttributeError: 'NoneType' object has no attribute 'status'"
    good.refresh_from_db()
    assert good.status == "sent"


def test_delivery_sweep_survives_an_error_before_the_transport(make_alert, monkeypatch):
    alert = make_alert()
    channels = [ChannelFactory(name=name, kind="email", addresses=["ops@example.com"]) for name in ("a", "b")]
    now = timezone.now()
    first, second = (notifications_queue(alert=alert, event="trigger", channels=[c], now=now)[0] for c in channels)
    real = notify.delivery_send

    def crashing(*, delivery_id, now=None):
        if delivery_id == first.pk:
            raise RuntimeError("unexpected")
        return real(delivery_id=delivery_id, now=now)

    monkeypatch.setattr(notify, "delivery_send", crashing)
    counts = deliveries_sweep(now=now)
    assert counts == {"error": 1, "sent": 1}
    second.refresh_from_db()
    assert second.status == "sent"


def test_a_rule_with_an_out_of_range_window_is_skipped_and_the_others_evaluate(clock, sample, service):
    sample(service, "http_latency_ms", 250, T0 - MIN + timedelta(seconds=10))
    odd = AlertRuleFactory(name="odd", window=timedelta(minutes=1))
    AlertRuleFactory(name="fine", window=timedelta(minutes=1))
    AlertRule.objects.filter(pk=odd.pk).update(window=AGES)
    report = rules_evaluate()
    assert [a.rule.name for a in Alert.objects.all()] == ["fine"]
    assert len(report.errors) == 1 and report.errors[0].startswith(f"rule {odd.pk} (odd) skipped: window = ")


def test_a_rule_failing_in_observation_keeps_its_alerts_open(clock, sample, service, monkeypatch):
    rule = AlertRuleFactory(name="odd", window=timedelta(minutes=1))
    sample(service, "http_latency_ms", 250, T0 - MIN + timedelta(seconds=10))
    rules_evaluate()
    assert Alert.objects.get().status == "firing"
    real = evaluation._rule_observations

    def broken(r, *args, **kwargs):
        if r.pk == rule.pk:
            raise KeyError("aggregation")
        return real(r, *args, **kwargs)

    monkeypatch.setattr(evaluation, "_rule_observations", broken)
    clock.move_to(T0 + 5 * MIN)  # no data in the window: a working rule would resolve
    report = rules_evaluate()
    assert report.errors == ["KeyError: 'aggregation'"]
    assert Alert.objects.get().status == "firing"
