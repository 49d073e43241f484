"""Disabling or deleting a rule closes its open alerts (through alert_resolve, saying why) and
forgets its evaluation state, from the API, the admin and the service functions."""

from datetime import timedelta

import pytest

from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertRule, RuleState
from monitoring.alerting.rules import rule_delete, rule_disable
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory

MIN = timedelta(minutes=1)


def feed(sample, service, value, *, start, minutes):
    for i in range(minutes):
        sample(service, "http_latency_ms", value, start + i * MIN + timedelta(seconds=10))


@pytest.fixture
def firing(clock, sample, service):
    """A rule with `for` 2 m whose alert fired at T0+4m, plus an acknowledged alert of the same rule."""
    rule = AlertRuleFactory(for_duration=2 * MIN, window=MIN)
    feed(sample, service, 250, start=T0, minutes=30)
    for minute in (2, 4):
        clock.move_to(T0 + minute * MIN)
        rules_evaluate()
    alert = Alert.objects.get(rule=rule)
    assert alert.status == "firing"
    return rule, alert


def test_disabling_a_rule_resolves_its_open_alerts_and_says_why(firing, users):
    rule, alert = firing
    assert rule_disable(rule=rule, by=users["admin"], via="api") == 1
    alert.refresh_from_db()
    rule.refresh_from_db()
    assert rule.enabled is False
    assert alert.status == "resolved" and alert.resolved_by == users["admin"]
    event = alert.events.latest("id")
    assert (event.kind, event.message, event.details, event.actor) == (
        "resolved",
        "rule disabled",
        {"via": "api"},
        users["admin"],
    )
    assert not RuleState.objects.filter(rule=rule).exists()


def test_without_a_person_the_event_names_the_rule_change(firing):
    rule, alert = firing
    rule_disable(rule=rule, by=None, via="rule change")
    event = Alert.objects.get(pk=alert.pk).events.latest("id")
    assert event.details == {"by": "rule change"} and event.actor_name == "rule change"


def test_a_re_enabled_rule_waits_for_its_full_for_duration_again(firing, clock, users):
    rule, alert = firing
    rule_disable(rule=rule, by=users["admin"], via="admin")
    clock.move_to(T0 + 10 * MIN)
    AlertRule.objects.filter(pk=rule.pk).update(enabled=True)
    report = rules_evaluate()
    assert (report.fired, report.reopened, report.pending) == (0, 0, 1)
    clock.move_to(T0 + 12 * MIN)
    assert rules_evaluate().fired == 1
    assert Alert.objects.get(pk=alert.pk).status == "resolved"  # a new incident, not the old one reopened
    assert Alert.objects.filter(rule=rule, status="firing").exclude(pk=alert.pk).count() == 1


def test_deleting_a_rule_keeps_its_alerts_resolved(firing, users):
    rule, alert = firing
    assert rule_delete(rule=rule, by=users["admin"], via="admin") == 1
    alert.refresh_from_db()
    assert alert.rule is None and alert.status == "resolved"
    assert alert.events.latest("id").message == f"rule {rule.name!r} deleted"


def test_api_patch_enabled_false_resolves(api_client, firing):
    rule, alert = firing
    response = api_client("admin").patch(f"/api/v1/alert-rules/{rule.pk}/", {"enabled": False}, format="json")
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.events.latest("id").details == {"via": "api"}


def test_api_patch_of_another_field_leaves_alerts_open(api_client, firing):
    rule, alert = firing
    api_client("admin").patch(f"/api/v1/alert-rules/{rule.pk}/", {"description": "x"}, format="json")
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_api_delete_resolves_then_deletes(api_client, firing):
    rule, alert = firing
    assert api_client("admin").delete(f"/api/v1/alert-rules/{rule.pk}/").status_code == 204
    alert.refresh_from_db()
    assert alert.rule is None and alert.status == "resolved"


def test_admin_disable_action_resolves(page_client, firing):
    rule, alert = firing
    response = page_client("admin").post(
        "/admin/alerting/alertrule/", {"action": "disable", "_selected_action": [rule.pk]}, follow=True
    )
    assert "Disabled 1 rule(s); resolved 1 open alert(s)." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.events.latest("id").details == {"via": "admin"}


def test_admin_delete_action_resolves(page_client, firing):
    rule, alert = firing
    response = page_client("admin").post(
        "/admin/alerting/alertrule/", {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    assert Alert.objects.get(pk=alert.pk).status == "resolved"


def test_unticking_enabled_in_the_admin_form_resolves(page_client, firing):
    rule, alert = firing
    form = {
        "name": rule.name, "description": "", "source": "metric", "metric": rule.metric, "matchers": "[]",
        "service": "", "aggregation": "avg", "window": "00:01:00", "comparison": "gt", "threshold": "100",
        "for_duration": "00:02:00", "severity": "critical", "labels": "{}", "summary": "", "annotation": "",
        "escalation_policy": "", "min_count": "0",
    }  # fmt: skip
    response = page_client("admin").post(f"/admin/alerting/alertrule/{rule.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    rule.refresh_from_db()
    alert.refresh_from_db()
    assert rule.enabled is False
    assert alert.status == "resolved" and alert.events.latest("id").message == "rule disabled"


def test_the_evaluator_closes_alerts_of_rules_deleted_or_disabled_behind_its_back(firing, clock, service):
    """A rule deleted with its service (cascade) or disabled by a bulk update in a shell."""
    rule, alert = firing
    other = AlertRuleFactory(window=MIN)
    clock.move_to(T0 + 5 * MIN)
    rules_evaluate()
    other_alert = Alert.objects.get(rule=other)
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)
    AlertRule.objects.filter(pk=other.pk).delete()
    clock.move_to(T0 + 6 * MIN)
    assert rules_evaluate().resolved == 2
    alert.refresh_from_db()
    other_alert.refresh_from_db()
    assert alert.status == other_alert.status == "resolved"
    assert alert.events.latest("id").message == "rule disabled"
    assert other_alert.events.latest("id").message == "rule deleted"
    assert other_alert.events.latest("id").details == {"by": "rule change"}
    assert not RuleState.objects.filter(rule=rule).exists()
    assert rules_evaluate().resolved == 0
