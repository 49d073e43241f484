"""Every transition from every state, allowed and refused, and what each one records."""

from datetime import timedelta

import pytest

from monitoring.alerting.conditions import fingerprint
from monitoring.alerting.lifecycle import (
    TransitionNotAllowed,
    alert_acknowledge,
    alert_comment,
    alert_fire,
    alert_reopen,
    alert_resolve,
    alert_unacknowledge,
)
from monitoring.alerting.models import Alert, AlertEvent, Delivery
from tests.alerting.conftest import T0
from tests.alerting.factories import ChannelFactory

STATES = ("firing", "acknowledged", "resolved")
TRANSITIONS = {
    # action: (function, allowed starting states, resulting status, event kind)
    "acknowledge": (alert_acknowledge, {"firing"}, "acknowledged", "acknowledged"),
    "unacknowledge": (alert_unacknowledge, {"acknowledged"}, "firing", "unacknowledged"),
    "resolve": (alert_resolve, {"firing", "acknowledged"}, "resolved", "resolved"),
    "reopen": (alert_reopen, {"resolved"}, "firing", "reopened"),
}
CASES = [(action, state) for action in TRANSITIONS for state in STATES]


@pytest.mark.parametrize(("action", "state"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
def test_every_transition_from_every_state(make_alert, users, action, state):
    func, allowed, result, kind = TRANSITIONS[action]
    alert = make_alert(status=state)
    events_before = AlertEvent.objects.filter(alert=alert).count()
    if state in allowed:
        func(alert=alert, by=users["operator"], via="page", now=T0 + timedelta(minutes=1))
        alert.refresh_from_db()
        assert alert.status == result
        event = AlertEvent.objects.filter(alert=alert).latest("id")
        assert event.kind == kind
        assert event.actor == users["operator"]
    else:
        with pytest.raises(TransitionNotAllowed, match=f"Cannot {action}"):
            func(alert=alert, by=users["operator"], via="page")
        alert.refresh_from_db()
        assert alert.status == state
        assert AlertEvent.objects.filter(alert=alert).count() == events_before


@pytest.mark.parametrize("state", STATES)
def test_comments_are_allowed_in_every_state(make_alert, users, state):
    alert = make_alert(status=state)
    event = alert_comment(alert=alert, by=users["operator"], via="page", text="  looking into it  ")
    assert (event.kind, event.message, event.actor) == ("commented", "looking into it", users["operator"])


def test_it_refuses_an_empty_comment(make_alert, users):
    alert = make_alert()
    with pytest.raises(ValueError, match="text"):
        alert_comment(alert=alert, by=users["operator"], via="page", text="   ")


def test_acknowledge_records_who_and_when_and_stops_escalation(make_alert, users):
    alert = make_alert()
    Alert.objects.filter(pk=alert.pk).update(next_escalation_at=T0 + timedelta(minutes=5))
    alert_acknowledge(alert=alert, by=users["operator"], via="page", now=T0 + timedelta(minutes=2))
    alert.refresh_from_db()
    assert alert.acknowledged_by == users["operator"]
    assert alert.acknowledged_at == T0 + timedelta(minutes=2)
    assert alert.next_escalation_at is None


def test_it_refuses_ack_of_resolved_alert(make_alert, users):
    alert = make_alert(status="resolved")
    with pytest.raises(TransitionNotAllowed, match="it is resolved"):
        alert_acknowledge(alert=alert, by=users["operator"], via="page")


def test_auto_resolve_has_no_actor_and_says_so(make_alert):
    alert = make_alert()
    alert_resolve(alert=alert, by=None, via="evaluator", value=12.5, now=T0 + timedelta(minutes=3))
    alert.refresh_from_db()
    assert alert.resolved_by is None and alert.value == 12.5
    event = alert.events.latest("id")
    assert event.details == {"by": "evaluator"}
    assert event.actor_name == "evaluator"


def test_reopen_clears_who_and_when(make_alert, users):
    alert = make_alert()
    alert_acknowledge(alert=alert, by=users["operator"], via="page")
    alert_resolve(alert=alert, by=users["operator"], via="page")
    alert_reopen(alert=alert, by=users["admin"], via="page")
    alert.refresh_from_db()
    assert alert.status == "firing"
    assert (alert.acknowledged_by, alert.resolved_by, alert.resolved_at) == (None, None, None)


def test_fire_dedups_on_fingerprint(rule, service):
    labels = {"service": service.slug}
    fp = fingerprint(rule.pk, labels)
    first, created = alert_fire(rule=rule, fingerprint=fp, labels=labels, value=1.0, summary="x")
    again, created_again = alert_fire(rule=rule, fingerprint=fp, labels=labels, value=2.0, summary="x")
    assert created and not created_again
    assert first.pk == again.pk
    assert Alert.objects.filter(fingerprint=fp).count() == 1


def test_reopen_is_refused_while_a_newer_alert_for_the_same_labels_is_open(rule, service, users):
    labels = {"service": service.slug}
    fp = fingerprint(rule.pk, labels)
    old, _ = alert_fire(rule=rule, fingerprint=fp, labels=labels, value=1.0, summary="x")
    alert_resolve(alert=old, by=users["operator"], via="page")
    alert_fire(rule=rule, fingerprint=fp, labels=labels, value=1.0, summary="x")
    with pytest.raises(TransitionNotAllowed, match="newer alert"):
        alert_reopen(alert=old, by=users["operator"], via="page")
    old.refresh_from_db()
    assert old.status == "resolved"


def test_firing_notifies_rule_channels_and_resolution_tells_the_same_channels(rule, service, webhook_channel, users):
    rule.channels.set([webhook_channel])
    labels = {"service": service.slug}
    alert, _ = alert_fire(rule=rule, fingerprint=fingerprint(rule.pk, labels), labels=labels, value=1.0, summary="x")
    assert list(Delivery.objects.values_list("event", "channel__name")) == [("trigger", "ops webhook")]
    alert_acknowledge(alert=alert, by=users["operator"], via="page")
    alert_resolve(alert=alert, by=users["operator"], via="page")
    events = sorted(Delivery.objects.values_list("event", flat=True))
    assert events == ["acknowledge", "resolve", "trigger"]


def test_email_channels_are_not_told_about_acknowledgements(rule, service, users):
    rule.channels.set([ChannelFactory(kind="email", addresses=["oncall@example.com"])])
    labels = {"service": service.slug}
    alert, _ = alert_fire(rule=rule, fingerprint=fingerprint(rule.pk, labels), labels=labels, value=1.0, summary="x")
    alert_acknowledge(alert=alert, by=users["operator"], via="page")
    assert list(Delivery.objects.values_list("event", flat=True)) == ["trigger"]
