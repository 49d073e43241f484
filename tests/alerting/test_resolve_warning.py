"""Resolving by hand while the condition still holds: the alert page warns (from the stored
rule state, no query per view), and the reopened alert carries the current value and texts
into the page and into the notification email."""

from datetime import timedelta

from django.core import mail

from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.lifecycle import alert_resolve
from monitoring.alerting.models import Alert, RuleState
from monitoring.alerting.notify import deliveries_sweep
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory

MIN = timedelta(minutes=1)
WARNING = "will reopen and notify again at the next evaluation"


def feed(sample, service, value, *, start, minutes):
    for i in range(minutes):
        sample(service, "http_latency_ms", value, start + i * MIN + timedelta(seconds=10))


def test_the_resolve_button_warns_while_the_condition_still_holds(page_client, clock, sample, service, settings):
    settings.TIME_ZONE = "UTC"  # the time below as shown; CI also runs this file in Asia/Kolkata
    AlertRuleFactory(name="Checkout latency", window=MIN)
    feed(sample, service, 250, start=T0, minutes=2)
    clock.move_to(T0 + MIN)
    rules_evaluate()
    alert = Alert.objects.get()
    page = page_client("operator").get(f"/alerts/{alert.pk}/").content.decode()
    assert 'id="resolve-warning"' in page and WARNING in page
    assert "2026-03-02 09:01 UTC" in page  # true since, 24-hour with the zone


def test_no_warning_once_the_condition_cleared_or_for_a_viewer(page_client, clock, sample, service):
    AlertRuleFactory(window=MIN)
    feed(sample, service, 250, start=T0, minutes=2)
    clock.move_to(T0 + MIN)
    rules_evaluate()
    alert = Alert.objects.get()
    # A viewer has no resolve button, so nothing to warn about.
    assert WARNING not in page_client("viewer").get(f"/alerts/{alert.pk}/").content.decode()
    # The last evaluation saw the condition false (the alert is then resolved by the same
    # evaluation; an open alert with an ok state happens when a rule was edited meanwhile).
    RuleState.objects.filter(rule=alert.rule).update(active_since=None)
    assert WARNING not in page_client("operator").get(f"/alerts/{alert.pk}/").content.decode()


def test_no_warning_on_a_resolved_alert(page_client, make_alert):
    alert = make_alert(status="resolved")
    RuleState.objects.create(rule=alert.rule, fingerprint=alert.fingerprint, active_since=alert.created_at)
    assert WARNING not in page_client("operator").get(f"/alerts/{alert.pk}/").content.decode()


def test_the_warning_reads_the_stored_state_not_the_metrics(
    page_client, clock, sample, service, django_assert_max_num_queries
):
    AlertRuleFactory(window=MIN)
    feed(sample, service, 250, start=T0, minutes=2)
    clock.move_to(T0 + MIN)
    rules_evaluate()
    alert = Alert.objects.get()
    client = page_client("operator")
    client.get(f"/alerts/{alert.pk}/")  # session, user and permission caches warm
    RuleState.objects.filter(rule=alert.rule).update(active_since=None)
    with django_assert_max_num_queries(50) as without:
        client.get(f"/alerts/{alert.pk}/")
    RuleState.objects.filter(rule=alert.rule).update(active_since=T0 + MIN)
    with django_assert_max_num_queries(50) as with_state:
        client.get(f"/alerts/{alert.pk}/")
    assert len(with_state.captured_queries) == len(without.captured_queries)
    tables = ("metricsample", "minuterollup", "hourrollup")  # what evaluating the rule would read
    assert not any(t in q["sql"].lower() for q in with_state.captured_queries for t in tables)


def test_a_reopened_alert_has_the_current_value_summary_and_email_subject(clock, sample, service, users):
    channel = ChannelFactory(kind="email", url="", secret="", addresses=["oncall@example.com"])
    rule = AlertRuleFactory(name="Checkout latency", window=MIN, summary="Checkout p95 is {value:.0f} ms")
    rule.channels.set([channel])
    feed(sample, service, 250, start=T0, minutes=2)
    feed(sample, service, 1875, start=T0 + 2 * MIN, minutes=2)
    clock.move_to(T0 + MIN)
    rules_evaluate()
    deliveries_sweep()
    alert = Alert.objects.get()
    assert alert.summary == "Checkout p95 is 250 ms"
    assert mail.outbox[-1].subject == "[FIRING] Checkout p95 is 250 ms"

    alert_resolve(alert=alert, by=users["operator"], via="page")
    deliveries_sweep()
    clock.move_to(T0 + 3 * MIN)  # still broken, and worse
    assert rules_evaluate().reopened == 1
    alert.refresh_from_db()
    assert alert.status == "firing" and alert.value == 1875
    assert alert.summary == "Checkout p95 is 1875 ms"
    assert alert.events.latest("id").value == 1875
    mail.outbox.clear()
    deliveries_sweep()
    (message,) = mail.outbox
    assert message.subject == "[FIRING] Checkout p95 is 1875 ms"
    assert "1,875" in message.body  # the value, rounded for people
    assert RuleState.objects.get(rule=rule).value == 1875


def test_a_person_reopening_keeps_the_texts(page_client, make_alert):
    alert = make_alert(status="resolved")
    page_client("operator").post(f"/alerts/{alert.pk}/reopen/")
    alert.refresh_from_db()
    assert alert.status == "firing" and alert.summary.endswith("is high") and alert.value == 123
