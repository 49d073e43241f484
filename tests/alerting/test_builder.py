"""Rule builder pages: role matrix, field errors, saving with the admin's side effects, and a
preview that agrees with the evaluator."""

import json
from datetime import timedelta
from urllib.parse import urlencode as encode

import pytest
from django.utils import timezone

from monitoring.alerting.evaluation import _metric_observations, rules_evaluate
from monitoring.alerting.models import Alert, AlertEvent, AlertRule, RuleSource
from monitoring.alerting.preview import preview_step
from monitoring.models import Metric
from monitoring.rollups import rollup_run
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory, EscalationPolicyFactory

pytestmark = pytest.mark.django_db

PAGE_ACTORS = ("anonymous", "norole", "viewer", "operator", "admin")
PAGE = {"anonymous": 302, "norole": 403, "viewer": 403, "operator": 403, "admin": 200}
JSON = {"anonymous": 403, "norole": 403, "viewer": 403, "operator": 403, "admin": 200}
CONDITION = {
    "metric": "http_latency_ms",
    "aggregation": "avg",
    "window": "5m",
    "comparison": "gt",
    "threshold": "100",
    "for_duration": "0m",
    "matchers": "[]",
}


def form_data(**changes):
    return {"name": "Slow checkout", "severity": "critical", "enabled": "on", "labels": "{}", **CONDITION, **changes}


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_builder_pages_are_for_admins_only(page_client, actor):
    rule = AlertRuleFactory()
    client = page_client(actor)
    for url in ("/alerts/rules/", "/alerts/rules/new/", f"/alerts/rules/{rule.pk}/edit/"):
        response = client.get(url)
        assert response.status_code == PAGE[actor], url
        if actor == "anonymous":
            assert response.url.startswith("/login/?next=")
    response = client.post("/alerts/rules/new/", form_data())
    assert response.status_code == (302 if actor in ("anonymous", "admin") else 403)
    assert AlertRule.objects.filter(name="Slow checkout").exists() is (actor == "admin")


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_builder_json_endpoints_are_for_admins_only(page_client, actor):
    client = page_client(actor)
    for url in ("/alerts/rules/labels.json?metric=http_latency_ms", "/alerts/rules/preview.json?" + urlencode()):
        response = client.get(url)
        assert response.status_code == JSON[actor], url
        assert response["Content-Type"] == "application/json"


def urlencode(**changes):
    return encode({**CONDITION, **changes})


def test_rule_list_links_metric_rules_to_the_builder(page_client):
    rule = AlertRuleFactory(name="Latency", for_duration=timedelta(minutes=90))
    builtin = AlertRuleFactory(name="Health", source=RuleSource.HEALTH_CHECK, metric="")
    html = page_client("admin").get("/alerts/rules/").content.decode()
    assert f"/alerts/rules/{rule.pk}/edit/" in html
    assert "<td>1h30m</td>" in html and "avg(http_latency_ms[5m]) &gt; 100" in html
    assert f"/alerts/rules/{builtin.pk}/edit/" not in html
    assert f"/admin/alerting/alertrule/{builtin.pk}/change/" in html
    assert page_client("admin").get(f"/alerts/rules/{builtin.pk}/edit/").status_code == 404


def test_builder_offers_known_metric_names(page_client):
    Metric.objects.create(name="checkout_orders_total")
    html = page_client("admin").get("/alerts/rules/new/").content.decode()
    assert '<option value="checkout_orders_total">' in html
    assert 'data-preview-url="/alerts/rules/preview.json"' in html


def errors_of(response) -> dict:
    return {name: [str(e) for e in errors] for name, errors in response.context["form"].errors.items()}


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"metric": ""}, "metric", "required"),
        ({"window": "30s"}, "window", "at least one minute"),
        ({"window": "25h"}, "window", "at most 24 hours"),
        ({"window": "5"}, "window", "with units"),
        ({"for_duration": "8d"}, "for_duration", "at most 7 days"),
        ({"threshold": "lots"}, "threshold", "number"),
        ({"aggregation": "median"}, "aggregation", "valid choice"),
        ({"comparison": "ne"}, "comparison", "valid choice"),
        ({"matchers": '[{"label": "route", "op": "=~", "value": "(unclosed"}]'}, "matchers", "regular expression"),
        ({"matchers": '[{"label": "", "op": "=", "value": "x"}]'}, "matchers", "label must be a non-empty string"),
        ({"matchers": '[{"label": "a", "op": "~", "value": "x"}]'}, "matchers", "op must be one of"),
        ({"matchers": "{not json"}, "matchers", "valid JSON"),
        ({"labels": '{"team": 5}'}, "labels", "object of strings"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_invalid_fields_are_named_on_the_page_and_in_the_preview(page_client, changes, field, message):
    client = page_client("admin")
    response = client.post("/alerts/rules/new/", form_data(**changes))
    assert response.status_code == 400
    errors = errors_of(response)
    assert field in errors and message in " ".join(errors[field]), errors
    assert f'data-field="{field}"><li>' in response.content.decode()
    assert not AlertRule.objects.exists()
    if field in CONDITION:
        preview = client.get("/alerts/rules/preview.json?" + urlencode(**changes))
        assert preview.status_code == 400
        assert message in " ".join(preview.json()["errors"][field])


def test_duplicate_name_is_refused_on_its_field(page_client):
    AlertRuleFactory(name="Slow checkout")
    response = page_client("admin").post("/alerts/rules/new/", form_data())
    assert response.status_code == 400 and "name" in errors_of(response)


def test_create_saves_every_field(page_client, service):
    channel = ChannelFactory()
    policy = EscalationPolicyFactory()
    data = form_data(
        service=service.pk,
        matchers=json.dumps([{"label": "route", "op": "=~", "value": "/api/.*"}]),
        aggregation="p95",
        window="1h30m",
        comparison="gte",
        threshold="250.5",
        for_duration="10m",
        channels=[channel.pk],
        escalation_policy=policy.pk,
        labels='{"team": "payments"}',
        summary="p95 {value:.0f} ms",
    )
    response = page_client("admin").post("/alerts/rules/new/", data)
    assert response.status_code == 302 and response.url == "/alerts/rules/"
    rule = AlertRule.objects.get(name="Slow checkout")
    assert rule.source == RuleSource.METRIC and rule.service == service
    assert rule.matchers == [{"label": "route", "op": "=~", "value": "/api/.*"}]
    assert (rule.aggregation, rule.window, rule.comparison, rule.threshold) == (
        "p95",
        timedelta(minutes=90),
        "gte",
        250.5,
    )
    assert rule.for_duration == timedelta(minutes=10)
    assert list(rule.channels.all()) == [channel] and rule.escalation_policy == policy
    assert rule.labels == {"team": "payments"} and rule.enabled


def test_edit_shows_durations_with_units_and_keeps_values(page_client):
    rule = AlertRuleFactory(window=timedelta(minutes=90), for_duration=timedelta(0), matchers=[])
    html = page_client("admin").get(f"/alerts/rules/{rule.pk}/edit/").content.decode()
    assert 'value="1h30m"' in html and 'value="0m"' in html


def test_disabling_in_the_builder_resolves_open_alerts_like_the_admin(page_client, make_alert, users):
    rule = AlertRuleFactory(name="Slow checkout")
    alert = make_alert(rule=rule)
    data = form_data()
    data.pop("enabled")
    response = page_client("admin").post(f"/alerts/rules/{rule.pk}/edit/", data)
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by == users["admin"]
    event = AlertEvent.objects.filter(alert=alert, kind="resolved").get()
    assert "rule disabled" in event.message


def test_editing_an_enabled_rule_leaves_its_alerts_alone(page_client, make_alert):
    rule = AlertRuleFactory(name="Slow checkout")
    alert = make_alert(rule=rule)
    response = page_client("admin").post(f"/alerts/rules/{rule.pk}/edit/", form_data(threshold="150"))
    assert response.status_code == 302
    assert AlertRule.objects.get(pk=rule.pk).threshold == 150
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_labels_endpoint_lists_names_and_values_of_the_metric(page_client, service, sample, clock):
    sample(service, "http_latency_ms", 10, T0 - timedelta(minutes=3), route="/pay", method="POST")
    sample(service, "http_latency_ms", 10, T0 - timedelta(minutes=2), route="/cart", method="GET")
    sample(service, "other_metric", 10, T0 - timedelta(minutes=2), host="x")
    sample(service, "http_latency_ms", 10, T0 - timedelta(hours=30), route="/old")  # before the lookback
    body = page_client("admin").get("/alerts/rules/labels.json?metric=http_latency_ms").json()
    assert body["labels"] == {"method": ["GET", "POST"], "route": ["/cart", "/pay"], "service": ["checkout"]}
    assert page_client("admin").get("/alerts/rules/labels.json").json()["labels"] == {}


def write_history(service, sample):
    """Two routes over 6 hours: /pay climbs to 40 + 20*h, /cart stays at 10."""
    for minute in range(0, 6 * 60, 3):
        at = T0 - timedelta(minutes=minute) - timedelta(seconds=20)
        sample(service, "http_latency_ms", 40 + 20 * (6 - minute / 60), at, route="/pay")
        sample(service, "http_latency_ms", 10 + minute % 7, at, route="/cart")


@pytest.mark.parametrize("aggregation", ["avg", "max", "rate", "count", "p95", "last"])
@pytest.mark.parametrize("rolled", [False, True])
def test_preview_values_are_the_evaluators(page_client, service, sample, clock, aggregation, rolled):
    write_history(service, sample)
    if rolled:  # half the history from minute rollups, the rest from raw samples, like in production
        rollup_run(now=T0 - timedelta(hours=2))
    params = urlencode(aggregation=aggregation, window="15m", threshold="100")
    body = page_client("admin").get("/alerts/rules/preview.json?" + params).json()
    rule = AlertRule(metric="http_latency_ms", aggregation=aggregation, window=timedelta(minutes=15), threshold=100)
    times = body["times"]
    assert len(times) == 24 * 6 and body["labels"][-1] == timezone.localtime(T0).strftime("%H:%M")
    lines = {d["label"]: d["data"] for d in body["datasets"]}
    assert lines["threshold 100"] == [100] * len(times)
    checked = 0
    for index in range(0, len(times), 2):
        moment = T0.fromisoformat(times[index])
        seen = {
            ",".join(f"{k}={v}" for k, v in sorted(o.labels.items())): o.value
            for o in _metric_observations([rule], now=moment)[None].values()
        }
        for label, data in lines.items():
            if label.startswith("threshold"):
                continue
            expected = seen.get(label.replace(", ", ","))
            assert data[index] == (None if expected is None else pytest.approx(expected, rel=1e-6)), (label, moment)
            checked += expected is not None
    assert checked > 20


def test_preview_says_whether_it_would_fire_now(page_client, service, sample, clock):
    write_history(service, sample)
    client = page_client("admin")
    body = client.get("/alerts/rules/preview.json?" + urlencode(threshold="100")).json()
    assert body["would_fire"] is True and body["firing_count"] == 1 and body["series_count"] == 2
    assert body["text"].startswith("Would fire now: yes (")
    assert "route=/pay" in body["text"] and body["value"] > 100
    body = client.get("/alerts/rules/preview.json?" + urlencode(threshold="1000")).json()
    assert body["would_fire"] is False and body["text"].startswith("Would fire now: no (")
    # Holding for 3 h: /pay is above 100 only since ~3 h ago, so a 4 h `for` would not fire yet.
    body = client.get("/alerts/rules/preview.json?" + urlencode(threshold="100", for_duration="4h")).json()
    assert body["would_fire"] is False and "must hold for" in body["text"]
    body = client.get("/alerts/rules/preview.json?" + urlencode(threshold="100", for_duration="1h")).json()
    assert body["would_fire"] is True
    matcher = json.dumps([{"label": "route", "op": "=", "value": "/cart"}])
    body = client.get("/alerts/rules/preview.json?" + urlencode(threshold="100", matchers=matcher)).json()
    assert body["would_fire"] is False and body["series_count"] == 1
    body = client.get("/alerts/rules/preview.json?" + urlencode(metric="nothing_here")).json()
    assert body["would_fire"] is False and "no data" in body["text"]


def test_a_rule_saved_from_the_builder_fires_when_the_preview_said_so(page_client, service, sample, clock):
    write_history(service, sample)
    client = page_client("admin")
    preview = client.get("/alerts/rules/preview.json?" + urlencode(threshold="100")).json()
    assert preview["would_fire"]
    assert client.post("/alerts/rules/new/", form_data(threshold="100")).status_code == 302
    report = rules_evaluate(now=T0)
    assert report.fired == 1
    alert = Alert.objects.get(status="firing")
    assert alert.labels["route"] == "/pay" and alert.value == pytest.approx(preview["value"])


@pytest.mark.parametrize("window", [timedelta(minutes=5), timedelta(hours=4), timedelta(hours=24)])
def test_long_windows_get_coarser_preview_steps(window):
    step = preview_step(window)
    assert (24 * 60 / (step.total_seconds() / 60)) * window.total_seconds() / 60 <= 30_000


def test_a_new_rule_starts_from_the_model_defaults(page_client):
    html = page_client("admin").get("/alerts/rules/new/").content.decode()
    assert 'name="window" value="5m"' in html and 'name="for_duration" value="0m"' in html


def test_many_label_sets_draw_the_closest_and_judge_all(page_client, service, sample, clock):
    for minute in range(0, 120, 5):
        for host in range(12):
            sample(service, "cpu", host * 10, T0 - timedelta(minutes=minute, seconds=10), host=f"h{host:02}")
    body = page_client("admin").get("/alerts/rules/preview.json?" + urlencode(metric="cpu", threshold="5",
                                                                               for_duration="1h")).json()  # fmt: skip
    assert body["series_count"] == 12 and body["firing_count"] == 11
    labels = [d["label"] for d in body["datasets"]]
    assert labels[0] == "host=h11, service=checkout" and labels[-1] == "threshold 5" and len(labels) == 9
    assert "yes (110; host=h11" in body["text"] and "11 of 12 label sets" in body["text"]


@pytest.mark.parametrize("actor", PAGE_ACTORS[2:])
def test_the_alerts_page_links_admins_to_the_builder(page_client, actor):
    html = page_client(actor).get("/alerts/").content.decode()
    assert ('href="/alerts/rules/"' in html) is (actor == "admin")
