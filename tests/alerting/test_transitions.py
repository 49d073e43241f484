"""Every state change is one function with one signature (`*, <thing>, by, via, reason=None,
now=None`), and every caller (API, admin, pages, email links, the evaluator) goes through it."""

import inspect
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.alerting import lifecycle, rules, silences
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertRule
from tests.alerting.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db

TRANSITIONS = {
    "alert": [
        lifecycle.alert_acknowledge,
        lifecycle.alert_unacknowledge,
        lifecycle.alert_resolve,
        lifecycle.alert_reopen,
    ],
    "rule": [rules.rule_disable, rules.rule_delete],
    "silence": [silences.silence_expire, silences.silence_changed, silences.silence_delete],
}


@pytest.mark.parametrize(
    "thing, func", [(thing, func) for thing, funcs in TRANSITIONS.items() for func in funcs], ids=lambda f: str(f)
)
def test_every_transition_takes_thing_by_via_reason_now(thing, func):
    params = inspect.signature(func).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values()), func.__name__
    names = list(params)
    assert names[:3] == [thing, "by", "via"], func.__name__
    assert params["by"].default is params["via"].default is inspect.Parameter.empty  # every caller says who and how
    assert params["reason"].default is None and params["now"].default is None


def test_reopen_says_where_it_came_from_like_the_other_transitions(api_client, page_client, make_alert, users):
    api_alert, page_alert, admin_alert = (make_alert(status="resolved") for _ in range(3))
    response = api_client("operator").post(f"/api/v1/alerts/{api_alert.pk}/reopen/", {"message": "still slow"})
    assert response.status_code == 200, response.content
    page_client("operator").post(f"/alerts/{page_alert.pk}/reopen/")
    page_client("admin").post(
        "/admin/alerting/alert/", {"action": "alert_reopen", "_selected_action": [admin_alert.pk]}
    )
    for alert, via in ((api_alert, "api"), (page_alert, "page"), (admin_alert, "admin")):
        event = alert.events.latest("id")
        assert (event.kind, event.details) == ("reopened", {"via": via}), via
    assert api_alert.events.latest("id").message == "still slow"


def _spy(monkeypatch, module):
    calls = []
    real = rules.rule_disable

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(f"{module}.rule_disable", spy)
    return calls


def _admin_form(rule):
    return {
        "name": rule.name, "description": "", "source": "metric", "metric": rule.metric, "matchers": "[]",
        "service": "", "aggregation": "avg", "window": "00:05:00", "comparison": "gt", "threshold": "100",
        "for_duration": "00:00:00", "severity": "critical", "labels": "{}", "summary": "", "annotation": "",
        "escalation_policy": "", "min_count": "0",
    }  # fmt: skip


def _builder_form(rule):
    return {
        "name": rule.name, "severity": "critical", "labels": "{}", "metric": rule.metric, "aggregation": "avg",
        "window": "5m", "comparison": "gt", "threshold": "100", "for_duration": "0m", "matchers": "[]",
    }  # fmt: skip


DISABLE_PATHS = {  # name: (the caller's module, its `via`, what a person does)
    "api": (
        "monitoring.alerting.api.config",
        "api",
        lambda c, rule: c["api"]("admin").patch(f"/api/v1/alert-rules/{rule.pk}/", {"enabled": False}),
    ),
    "admin": (
        "monitoring.alerting.admin",
        "admin",
        lambda c, rule: c["page"]("admin").post(f"/admin/alerting/alertrule/{rule.pk}/change/", _admin_form(rule)),
    ),
    "admin action": (
        "monitoring.alerting.admin",
        "admin",
        lambda c, rule: c["page"]("admin").post(
            "/admin/alerting/alertrule/", {"action": "disable", "_selected_action": [rule.pk]}
        ),
    ),
    "rule builder": (
        "monitoring.alerting.rule_pages",
        "rule builder",
        lambda c, rule: c["page"]("admin").post(f"/alerts/rules/{rule.pk}/edit/", _builder_form(rule)),
    ),
}


@pytest.mark.parametrize("path", list(DISABLE_PATHS))
def test_every_way_of_disabling_a_rule_goes_through_rule_disable(
    path, monkeypatch, api_client, page_client, make_alert
):
    module, via, act = DISABLE_PATHS[path]
    calls = _spy(monkeypatch, module)
    rule = AlertRuleFactory(window=timedelta(minutes=5), for_duration=timedelta(0))
    alert = make_alert(rule=rule)
    response = act({"api": api_client, "page": page_client}, rule)
    assert response.status_code in (200, 302), response.content.decode()[:2000]
    assert [(c["rule"].pk, c["by"].username, c["via"]) for c in calls] == [(rule.pk, "admin", via)]
    rule.refresh_from_db()
    alert.refresh_from_db()
    assert rule.enabled is False
    assert alert.status == "resolved"
    event = alert.events.latest("id")
    assert (event.message, event.details, event.actor.username) == ("rule disabled", {"via": via}, "admin")


def test_the_evaluator_closes_a_rule_disabled_behind_its_back_through_rule_disable(monkeypatch, make_alert):
    calls = _spy(monkeypatch, "monitoring.alerting.evaluation")
    rule = AlertRuleFactory()
    make_alert(rule=rule)
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)
    assert rules_evaluate().resolved == 1
    assert [(c["rule"].pk, c["by"], c["via"]) for c in calls] == [(rule.pk, None, "rule change")]


def test_a_failed_disable_through_the_api_leaves_the_rule_enabled(monkeypatch, api_client, make_alert):
    """Saving `enabled` and resolving the alerts are one transaction: never a disabled rule
    whose alerts stay open for ever."""
    rule = AlertRuleFactory()
    alert = make_alert(rule=rule)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("monitoring.alerting.rules.alert_resolve", broken)
    with pytest.raises(RuntimeError):
        api_client("admin").patch(f"/api/v1/alert-rules/{rule.pk}/", {"enabled": False})
    rule.refresh_from_db()
    assert rule.enabled is True
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_ending_a_silence_says_who_and_how(api_client, users, caplog):
    silence = silences.silence_create(
        reason="deploy", ends_at=timezone.now() + timedelta(hours=1), author=users["admin"], rule=AlertRuleFactory()
    )
    caplog.set_level("INFO", logger="monitoring.alerting.silences")
    assert api_client("operator").post(f"/api/v1/silences/{silence.pk}/expire/").status_code == 200
    assert f"silence #{silence.pk} ended by operator via api" in caplog.text
