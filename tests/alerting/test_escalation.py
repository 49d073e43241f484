"""Escalation timing on a frozen clock: steps, repeat, ack stopping it, reopen restarting it."""

from datetime import timedelta

import pytest

from monitoring.alerting.escalation import escalation_advance, escalation_sweep
from monitoring.alerting.lifecycle import alert_acknowledge, alert_reopen, alert_resolve, alert_unacknowledge
from monitoring.alerting.models import Delivery
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory, EscalationPolicyFactory, EscalationStepFactory

MIN = timedelta(minutes=1)


@pytest.fixture
def policy(db, users):
    policy = EscalationPolicyFactory(name="on-call", repeat=1, repeat_after_minutes=30)
    EscalationStepFactory(policy=policy, order=0, wait_minutes=0, channels=[ChannelFactory(name="primary")])
    step = EscalationStepFactory(policy=policy, order=1, wait_minutes=10, channels=[ChannelFactory(name="secondary")])
    step.users.set([users["admin"]])
    return policy


@pytest.fixture
def escalating_rule(policy):
    return AlertRuleFactory(escalation_policy=policy)


def sent(step=None):
    rows = Delivery.objects.filter(event="escalation")
    if step is not None:
        rows = rows.filter(step=step)
    return sorted(d.target_name for d in rows.select_related("channel", "user"))


def test_first_step_goes_out_when_the_alert_fires_and_the_next_after_its_wait(clock, make_alert, escalating_rule):
    alert = make_alert(rule=escalating_rule)
    assert sent() == ["primary"]
    alert.refresh_from_db()
    assert alert.next_escalation_at == T0 + 10 * MIN
    clock.move_to(T0 + 9 * MIN)
    assert escalation_sweep() == 0
    clock.move_to(T0 + 10 * MIN)
    assert escalation_sweep() == 1
    assert sent(step=1) == ["admin", "secondary"]
    assert alert.events.filter(kind="escalated").count() == 2


def test_repeat_runs_the_sequence_again_then_stops(clock, make_alert, escalating_rule):
    alert = make_alert(rule=escalating_rule)
    clock.move_to(T0 + 10 * MIN)
    escalation_sweep()
    alert.refresh_from_db()
    assert alert.next_escalation_at == T0 + 40 * MIN  # repeat_after_minutes=30
    clock.move_to(T0 + 40 * MIN)
    escalation_sweep()
    assert sent(step=0) == ["primary", "primary"]
    clock.move_to(T0 + 50 * MIN)
    escalation_sweep()
    alert.refresh_from_db()
    assert alert.next_escalation_at is None  # repeat=1: done after the second round
    clock.move_to(T0 + 500 * MIN)
    assert escalation_sweep() == 0
    assert len(sent()) == 6


def test_acknowledging_stops_escalation(clock, make_alert, escalating_rule, users):
    alert = make_alert(rule=escalating_rule)
    clock.move_to(T0 + 5 * MIN)
    alert_acknowledge(alert=alert, by=users["operator"], via="page")
    clock.move_to(T0 + 60 * MIN)
    assert escalation_sweep() == 0
    assert sent() == ["primary"]


def test_resolving_stops_escalation(clock, make_alert, escalating_rule, users):
    alert = make_alert(rule=escalating_rule)
    alert_resolve(alert=alert, by=users["operator"], via="page")
    alert.refresh_from_db()
    assert alert.next_escalation_at is None  # the due time is gone, not just skipped by the sweep
    clock.move_to(T0 + 60 * MIN)
    assert escalation_sweep() == 0
    assert sent() == ["primary"]


def test_reopen_and_unacknowledge_start_escalation_again(clock, make_alert, escalating_rule, users):
    alert = make_alert(rule=escalating_rule)
    alert_resolve(alert=alert, by=users["operator"], via="page")
    clock.move_to(T0 + 20 * MIN)
    alert_reopen(alert=alert, by=users["operator"], via="page")
    assert sent(step=0) == ["primary", "primary"]
    alert.refresh_from_db()
    assert alert.next_escalation_at == T0 + 30 * MIN
    alert_acknowledge(alert=alert, by=users["operator"], via="page")
    alert_unacknowledge(alert=alert, by=users["operator"], via="page")
    assert sent(step=0) == ["primary", "primary", "primary"]


def test_a_stale_sweep_does_nothing_when_the_alert_moved_on(clock, make_alert, escalating_rule, users):
    alert = make_alert(rule=escalating_rule)
    clock.move_to(T0 + 10 * MIN)
    alert_acknowledge(alert=alert, by=users["operator"], via="page")  # between the sweeper's SELECT and its lock
    assert escalation_advance(alert_id=alert.pk) is False
    assert sent() == ["primary"]


def test_a_late_sweeper_does_not_fire_every_step_at_once(clock, make_alert, escalating_rule):
    make_alert(rule=escalating_rule)
    clock.move_to(T0 + 300 * MIN)  # sweeper down for hours
    escalation_sweep()
    assert sent(step=1) == ["admin", "secondary"]
    assert sent(step=0) == ["primary"]  # the repeat waits its 30 minutes from now


def test_people_paged_by_escalation_hear_the_resolution_but_not_the_acknowledgement(
    clock, make_alert, escalating_rule, users
):
    alert = make_alert(rule=escalating_rule)
    clock.move_to(T0 + 10 * MIN)
    escalation_sweep()  # step 2 pages the admin directly
    alert_acknowledge(alert=alert, by=users["operator"], via="page")
    assert not Delivery.objects.filter(user=users["admin"], event="acknowledge").exists()
    alert_resolve(alert=alert, by=users["operator"], via="page")
    assert Delivery.objects.filter(user=users["admin"], event="resolve").count() == 1
    assert {d.channel.name for d in Delivery.objects.filter(event="resolve", channel__isnull=False)} == {
        "primary",
        "secondary",
    }
