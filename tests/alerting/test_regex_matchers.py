"""Regex matchers run on RE2 with bounded patterns and values, and never inside the write lock."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring.alerting.conditions import MAX_MATCH_VALUE, MAX_PATTERN, MatcherError, _regex, parse_matchers
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertRule, Delivery, Silence
from monitoring.alerting.silences import silence_create
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory

HOUR = timedelta(hours=1)


def regex(pattern, op="=~"):
    (matcher,) = parse_matchers([{"label": "x", "op": op, "value": pattern}])
    return matcher


@pytest.mark.parametrize("pattern", ["(a|aa)+b", "(a+)+b", "(a*)*b", "(.*a){20}b", "(\\w+\\s?)+!"])
def test_catastrophic_backtracking_patterns_finish_at_once(pattern):
    started = time.perf_counter()
    assert not regex(pattern).matches({"x": "a" * 10_000})
    assert regex(pattern, op="!~").matches({"x": "a" * 56})  # 61 s with Python's `re`
    assert time.perf_counter() - started < 1.0


def test_the_engine_is_linear_even_past_the_value_limit():
    started = time.perf_counter()
    assert _regex("(a|aa)+b").fullmatch("a" * 100_000) is None
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "value", "hit"),
    [
        ("/api/.*", "/api/orders", True),
        ("5..", "503", True),
        ("5..", "5030", False),  # anchored at both ends, like Prometheus
        ("GET|POST", "POST", True),
        ("(?i)get", "GET", True),
        ("[[:alpha:]]+", "disk", True),
        ("\\d+", "42", True),
        ("sda[0-9]?", "sda1", True),
        ("(?P<dev>nvme)0n1", "nvme0n1", True),
        ("", "", True),  # an empty pattern matches a missing label
        (".+", "", False),
        ("caf.", "café", True),  # one character, not one byte
    ],
)
def test_prometheus_style_patterns_still_match(pattern, value, hit):
    assert regex(pattern).matches({"x": value} if value else {}) is hit


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(", "missing )"),
        ("(?=a)b", "invalid perl operator"),  # look-ahead: backtracking-only syntax
        ("(a)\\1", "invalid escape"),  # back-reference
        ("a{1001}", "repetition"),
        ("a++", "repetition"),
    ],
)
def test_patterns_re2_cannot_run_in_linear_time_are_refused_naming_the_field(pattern, reason):
    with pytest.raises(MatcherError, match=r"^matchers\[1\]\.value: invalid regular expression: ") as caught:
        parse_matchers([{"label": "a", "op": "=", "value": "ok"}, {"label": "x", "op": "!~", "value": pattern}])
    assert reason in str(caught.value)


def test_too_long_pattern_is_refused_but_a_long_equality_value_is_not():
    with pytest.raises(MatcherError, match=rf"matchers\[0\]\.value: .*at most {MAX_PATTERN} characters"):
        parse_matchers([{"label": "x", "op": "=~", "value": "a" * (MAX_PATTERN + 1)}])
    assert regex("a" * MAX_PATTERN).matches({"x": "a" * MAX_PATTERN})
    parse_matchers([{"label": "x", "op": "=", "value": "a" * 1000}])


def test_a_regex_looks_at_the_first_characters_of_a_very_long_value():
    long_value = "b" * MAX_MATCH_VALUE + "tail"
    assert regex("b+").matches({"x": long_value})
    assert not regex(".*tail").matches({"x": long_value})


@pytest.mark.parametrize("prefix", ["silences", "alert-rules"])
@pytest.mark.parametrize(
    ("pattern", "message"), [("(a|b", "invalid regular expression"), ("x" * 300, "at most 256 characters")]
)
def test_api_refuses_bad_patterns_with_400_naming_the_field(api_client, rule, prefix, pattern, message):
    matchers = [{"label": "route", "op": "=", "value": "/"}, {"label": "route", "op": "=~", "value": pattern}]
    body = {
        "silences": {
            "rule": rule.pk,
            "ends_at": (timezone.now() + timedelta(days=30)).isoformat(),
            "reason": "deploy",
            "matchers": matchers,
        },
        "alert-rules": {"name": "r", "metric": "cpu", "threshold": 1, "matchers": matchers},
    }[prefix]
    response = api_client("admin").post(f"/api/v1/{prefix}/", body, format="json")
    assert response.status_code == 400, response.content
    (error,) = response.json()["matchers"]
    assert error.startswith("matchers[1].value: ") and message in error


def test_api_accepts_a_prometheus_pattern(api_client, rule):
    body = {
        "rule": rule.pk,
        "ends_at": (timezone.now() + timedelta(days=30)).isoformat(),
        "reason": "deploy",
        "matchers": [{"label": "route", "op": "=~", "value": "/api/(orders|cart)/[0-9]+"}],
    }
    assert api_client("operator").post("/api/v1/silences/", body, format="json").status_code == 201


def _depth() -> int:
    return len(connection.atomic_blocks)


def test_a_new_silence_matches_open_alerts_before_its_write_transaction(clock, make_alert, monkeypatch):
    rule = AlertRuleFactory(name="loud")
    alerts = [make_alert(rule=rule) for _ in range(3)]
    outside, depths = _depth(), []
    covers = Silence.covers
    monkeypatch.setattr(Silence, "covers", lambda self, alert: depths.append(_depth()) or covers(self, alert))
    silence_create(reason="deploy", ends_at=T0 + HOUR, matchers=[{"label": "n", "op": "=~", "value": "[12]"}])
    assert depths and set(depths) == {outside}
    held = {a.pk for a in Alert.objects.filter(suppressed_until=T0 + HOUR)}
    assert held == {alerts[0].pk, alerts[1].pk}


def test_firing_matches_silences_before_its_write_transaction(clock, make_alert, monkeypatch):
    rule = AlertRuleFactory(name="loud")
    silence_create(reason="deploy", ends_at=T0 + HOUR, rule=rule, matchers=[{"label": "n", "op": "=~", "value": ".*"}])
    outside, depths = _depth(), []
    covers = Silence.covers
    monkeypatch.setattr(Silence, "covers", lambda self, alert: depths.append(_depth()) or covers(self, alert))
    alert = make_alert(rule=rule)
    assert depths and set(depths) == {outside}
    alert.refresh_from_db()
    assert alert.suppressed_until == T0 + HOUR


def test_a_stored_silence_re2_refuses_holds_nothing_and_breaks_nothing(clock, make_alert):
    rule = AlertRuleFactory(name="loud")
    rule.channels.set([ChannelFactory(name="pager")])
    silence = silence_create(reason="old", ends_at=T0 + HOUR, matchers=[{"label": "n", "op": "=~", "value": ".*"}])
    # Saved before RE2: a look-ahead Python's `re` accepted.
    Silence.objects.filter(pk=silence.pk).update(matchers=[{"label": "n", "op": "=~", "value": "(?=1)1"}])
    alert = make_alert(rule=rule)
    alert.refresh_from_db()
    assert alert.suppressed_until is None
    assert Delivery.objects.filter(alert=alert, event="trigger").count() == 1


def test_evaluation_skips_a_stored_rule_re2_refuses_and_evaluates_the_others(clock, service, sample):
    broken = AlertRuleFactory(name="broken", metric="cpu", threshold=1, for_duration=timedelta(0))
    AlertRule.objects.filter(pk=broken.pk).update(matchers=[{"label": "host", "op": "=~", "value": "x" * 300}])
    AlertRuleFactory(name="fine", metric="cpu", threshold=1, for_duration=timedelta(0))
    sample(service, "cpu", 50, T0 - timedelta(seconds=30), host="web1")
    report = rules_evaluate(now=T0)
    assert report.fired == 1 and Alert.objects.get().rule.name == "fine"
    assert len(report.errors) == 1 and "matchers[0].value" in report.errors[0]
