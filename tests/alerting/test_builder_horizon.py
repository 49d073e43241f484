"""The rule builder's horizon: required for predict_linear, refused on other aggregations (the
model's rule), bounded like the model, saved, shown back, and read by the preview."""

from datetime import timedelta

import pytest

from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import AlertRule
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory
from tests.alerting.test_builder import errors_of, form_data, urlencode

pytestmark = pytest.mark.django_db

PREDICT = {"metric": "disk_percent", "aggregation": "predict_linear", "window": "1h", "threshold": "90"}


def test_a_predict_linear_rule_is_saved_with_its_horizon(page_client):
    response = page_client("admin").post("/alerts/rules/new/", form_data(**PREDICT, horizon="7d"))
    assert response.status_code == 302, errors_of(response)
    rule = AlertRule.objects.get(name="Slow checkout")
    assert (rule.aggregation, rule.horizon) == ("predict_linear", timedelta(days=7))
    assert rule.condition_text == "predict_linear(disk_percent[60m], 7d) > 90"


def test_other_aggregations_leave_it_empty_and_save_none(page_client):
    response = page_client("admin").post("/alerts/rules/new/", form_data(horizon=""))
    assert response.status_code == 302
    assert AlertRule.objects.get().horizon == timedelta(0)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({**PREDICT, "horizon": ""}, "predict_linear needs a horizon"),
        ({**PREDICT, "horizon": "91d"}, "at most 90 days"),
        ({**PREDICT, "horizon": "-1 00:00:00"}, "must not be negative"),
        ({**PREDICT, "horizon": "7"}, "duration with units"),
        ({"aggregation": "avg", "horizon": "1d"}, "read by predict_linear only"),
    ],
)
def test_a_wrong_horizon_is_named_on_the_page_and_in_the_preview(page_client, changes, message):
    client = page_client("admin")
    response = client.post("/alerts/rules/new/", form_data(**changes))
    assert response.status_code == 400
    errors = errors_of(response)
    assert list(errors) == ["horizon"] and message in " ".join(errors["horizon"]).lower(), errors
    assert 'data-field="horizon"><li>' in response.content.decode()
    assert not AlertRule.objects.exists()
    preview = client.get("/alerts/rules/preview.json?" + urlencode(**changes))
    assert preview.status_code == 400
    assert message in " ".join(preview.json()["errors"]["horizon"]).lower()


def test_the_edit_page_shows_the_horizon_with_units_and_none_for_zero(page_client):
    predict = AlertRuleFactory(name="disk", aggregation="predict_linear", horizon=timedelta(days=2, hours=12))
    plain = AlertRuleFactory(name="latency")
    client = page_client("admin")
    assert 'name="horizon" value="2d12h"' in client.get(f"/alerts/rules/{predict.pk}/edit/").content.decode()
    html = client.get(f"/alerts/rules/{plain.pk}/edit/").content.decode()
    assert 'name="horizon"' in html and 'name="horizon" value=' not in html
    assert 'name="horizon"' in client.get("/alerts/rules/new/").content.decode()


def test_the_preview_reads_the_line_a_horizon_ahead_as_the_evaluator_does(page_client, service, sample, clock):
    for minute in range(120):  # +0.01 % a minute: +14.4 % a day
        sample(service, "disk_percent", 50 + 0.01 * minute, T0 - timedelta(minutes=120 - minute, seconds=-5))
    client = page_client("admin")
    today = client.get("/alerts/rules/preview.json?" + urlencode(**PREDICT, horizon="0s")).json()
    week = client.get("/alerts/rules/preview.json?" + urlencode(**PREDICT, horizon="3d")).json()
    assert today["would_fire"] is False and week["would_fire"] is True
    assert week["value"] - today["value"] == pytest.approx(0.01 * 3 * 24 * 60, rel=1e-6)
    assert client.post("/alerts/rules/new/", form_data(**PREDICT, horizon="3d")).status_code == 302
    assert rules_evaluate(now=T0).fired == 1  # what the preview said
