"""predict_linear: a rule on where a series is heading ("disk predicted in 7 days > 90") fires
through the ordinary evaluator, on a frozen clock and real metric samples."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert
from tests.alerting import conftest as alerting
from tests.alerting.factories import AlertRuleFactory

T0 = alerting.T0
clock, sample = alerting.clock, alerting.sample  # the alerting tests' fixtures

MIN = timedelta(minutes=1)


def disk_rule(**kw):
    return AlertRuleFactory(
        name="disk filling",
        metric="disk_percent",
        aggregation="predict_linear",
        window=timedelta(hours=1),
        horizon=timedelta(days=7),
        comparison="gt",
        threshold=90,
        **kw,
    )


def feed(sample, service, values, *, start):
    for i, value in enumerate(values):
        sample(service, "disk_percent", value, start + i * MIN + timedelta(seconds=5), mount="/")


def test_a_disk_filling_towards_the_threshold_within_the_horizon_pages(clock, sample, service):
    rule = disk_rule()
    # 50 % growing 0.001 %/minute: 1.44 %/day, about 60.6 % in 7 days. Quiet.
    feed(sample, service, [50 + 0.001 * i for i in range(60)], start=T0)
    clock.move_to(T0 + 60 * MIN)
    assert rules_evaluate().fired == 0
    assert not Alert.objects.exists()
    # 50 % growing 0.005 %/minute: 7.2 %/day, about 100.7 % in 7 days: it fires, though today's 50 % is fine.
    feed(sample, service, [50 + 0.005 * i for i in range(60)], start=T0 + 60 * MIN)
    clock.move_to(T0 + 120 * MIN)
    report = rules_evaluate()
    assert report.fired == 1, report.errors
    alert = Alert.objects.get()
    # The line at the last minute's end (0.295 + 0.005) plus 7 days of 0.005/minute.
    assert alert.value == pytest.approx(50 + 0.3 + 0.005 * 7 * 24 * 60, rel=1e-6)
    assert alert.rule == rule
    assert rule.condition_text == "predict_linear(disk_percent[60m], 7d) > 90"


def test_a_single_minute_or_a_falling_disk_never_pages(clock, sample, service):
    disk_rule()
    feed(sample, service, [95], start=T0)  # one minute: no direction, no value
    clock.move_to(T0 + 2 * MIN)
    assert rules_evaluate().fired == 0
    feed(sample, service, [80] * 30, start=T0 + 2 * MIN)
    clock.move_to(T0 + 40 * MIN)
    assert rules_evaluate().fired == 0  # 95 once, then 80 for half an hour: falling


@pytest.mark.parametrize(
    ("aggregation", "horizon", "field"),
    [
        ("predict_linear", timedelta(days=91), "horizon"),
        ("predict_linear", timedelta(seconds=-1), "horizon"),
        ("avg", timedelta(days=1), "horizon"),
    ],
)
def test_the_horizon_is_bounded_and_only_for_predict_linear(db, aggregation, horizon, field):
    rule = AlertRuleFactory.build(aggregation=aggregation, horizon=horizon)
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert field in caught.value.message_dict


def test_the_rules_api_accepts_a_horizon_and_names_it_when_out_of_bounds(api_client):
    client = api_client("admin")
    body = {
        "name": "disk in a week",
        "metric": "disk_percent",
        "aggregation": "predict_linear",
        "window": "01:00:00",
        "horizon": "7 00:00:00",
        "comparison": "gt",
        "threshold": 90,
    }
    created = client.post("/api/v1/alert-rules/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["condition"] == "predict_linear(disk_percent[60m], 7d) > 90"
    refused = client.post("/api/v1/alert-rules/", {**body, "name": "far", "horizon": "365 00:00:00"}, format="json")
    assert refused.status_code == 400
    assert "horizon" in refused.json()
