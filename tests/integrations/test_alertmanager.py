"""Alertmanager's webhook (version 4) → portal alerts through the alerting lifecycle."""

import copy
import json
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.lifecycle import alert_acknowledge
from monitoring.alerting.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertStatus,
    Channel,
    Delivery,
    EventKind,
    RuleSource,
)
from monitoring.integrations.models import Receiver, ReceiverKind
from monitoring.integrations.receivers import MAX_ALERTS, receiver_rule, receiver_token_issue

URL = "/api/v1/integrations/alertmanager/"


def am_alert(fp="3f2a9c1d7e5b4a60", name="HighLatency", status="firing", severity="critical", **labels):
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "instance": "web-1:8000", **labels},
        "annotations": {
            "summary": f"{name} on web-1",
            "description": "p99 latency above 2 s for 10 minutes",
            "runbook_url": "https://runbooks.example.org/latency",
        },
        "startsAt": "2026-12-02T03:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-02T03:20:00.000Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=latency_p99+%3E+2",
        "fingerprint": fp,
    }


def am_payload(*alerts, status=None):
    alerts = list(alerts) or [am_alert()]
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved"),
        "receiver": "portal",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


@pytest.fixture
def receiver(service):
    return Receiver.objects.create(name="prod-alertmanager", kind=ReceiverKind.ALERTMANAGER, service=service)


@pytest.fixture
def token(receiver):
    return receiver_token_issue(receiver=receiver)


@pytest.fixture
def am(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def channel(receiver):
    channel = Channel.objects.create(name="oncall mail", kind="email", addresses=["oncall@example.org"])
    receiver_rule(receiver).channels.add(channel)
    return channel


def post(client, payload, url=URL, **extra):
    return client.post(url, payload, format="json", **extra)


def test_a_firing_alert_becomes_a_portal_alert(am, receiver, service):
    response = post(am, am_payload())
    assert response.status_code == 200, response.content
    assert response.json() == {"fired": 1, "updated": 0, "resolved": 0, "ignored": 0, "receiver": "prod-alertmanager"}
    alert = Alert.objects.get()
    receiver.refresh_from_db()
    assert alert.rule == receiver.rule and alert.rule.source == RuleSource.EXTERNAL
    assert alert.service == service
    assert alert.status == AlertStatus.FIRING
    assert alert.severity == "critical"
    assert alert.labels == {"alertname": "HighLatency", "severity": "critical", "instance": "web-1:8000"}
    assert alert.summary == "HighLatency on web-1"
    assert alert.description.startswith("p99 latency above 2 s for 10 minutes\n\n")
    assert "runbook_url: https://runbooks.example.org/latency" in alert.description
    assert "generatorURL: http://prometheus:9090/graph?g0.expr=latency_p99+%3E+2" in alert.description
    assert [e.kind for e in alert.events.all()] == [EventKind.TRIGGERED]
    assert receiver.last_received_at is not None


def test_a_resent_firing_alert_updates_and_notifies_once(am, channel):
    post(am, am_payload())
    alert = Alert.objects.get()
    assert Delivery.objects.filter(alert=alert).count() == 1  # the trigger to the rule's channel
    again = am_alert()
    again["annotations"]["summary"] = "HighLatency on web-1 (3.1 s)"
    again["labels"]["severity"] = "warning"
    response = post(am, am_payload(again))
    assert response.json()["updated"] == 1 and response.json()["fired"] == 0
    assert Alert.objects.count() == 1
    alert.refresh_from_db()
    assert alert.summary == "HighLatency on web-1 (3.1 s)"
    assert alert.severity == "warning"
    assert alert.labels["severity"] == "warning"
    assert Delivery.objects.filter(alert=alert).count() == 1
    assert AlertEvent.objects.filter(alert=alert, kind=EventKind.TRIGGERED).count() == 1


def test_resolved_resolves_through_the_lifecycle(am, channel):
    post(am, am_payload())
    response = post(am, am_payload(am_alert(status="resolved")))
    assert response.json()["resolved"] == 1
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None
    event = alert.events.get(kind=EventKind.RESOLVED)
    assert event.details == {"by": "alertmanager"}
    assert event.message == "resolved in Prometheus Alertmanager"
    # Those notified of the trigger hear about the resolution.
    assert Delivery.objects.filter(alert=alert, event="resolve").count() == 1


def test_resolved_for_an_alert_never_seen_is_ignored(am):
    response = post(am, am_payload(am_alert(status="resolved")))
    assert response.json() == {"fired": 0, "updated": 0, "resolved": 0, "ignored": 1, "receiver": "prod-alertmanager"}
    assert not Alert.objects.exists()


def test_firing_again_after_resolution_opens_a_new_alert(am):
    post(am, am_payload())
    post(am, am_payload(am_alert(status="resolved")))
    post(am, am_payload())
    assert list(Alert.objects.order_by("pk").values_list("status", flat=True)) == ["resolved", "firing"]


def test_an_acknowledged_alert_stays_acknowledged_on_resend(am, users):
    post(am, am_payload())
    alert_acknowledge(alert=Alert.objects.get(), by=users["operator"], via="api")
    post(am, am_payload())
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.ACKNOWLEDGED


def test_grouped_alerts_fire_and_resolve_together(am):
    post(am, am_payload(*[am_alert(fp=f"{i:016x}", instance=f"web-{i}:8000") for i in range(3)]))
    assert Alert.objects.open().count() == 3
    mixed = [am_alert(fp=f"{0:016x}", instance="web-0:8000", status="resolved")]
    mixed += [am_alert(fp=f"{i:016x}", instance=f"web-{i}:8000") for i in (1, 2, 3)]
    response = post(am, am_payload(*mixed))
    assert response.json() == {"fired": 1, "updated": 2, "resolved": 1, "ignored": 0, "receiver": "prod-alertmanager"}
    assert sorted(a.labels["instance"] for a in Alert.objects.open()) == ["web-1:8000", "web-2:8000", "web-3:8000"]


def test_queries_do_not_grow_with_the_alerts_of_a_payload(am, channel):
    def queries(payload) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert post(am, payload).status_code == 200
        return len(captured)

    small = queries(am_payload(*[am_alert(fp=f"a{i:015x}", n=str(i)) for i in range(2)]))
    large = queries(am_payload(*[am_alert(fp=f"b{i:015x}", n=str(i)) for i in range(200)]))
    assert large == small
    resend = queries(am_payload(*[am_alert(fp=f"b{i:015x}", n=str(i), extra="x") for i in range(200)]))
    resolve = queries(am_payload(*[am_alert(fp=f"b{i:015x}", n=str(i), status="resolved") for i in range(200)]))
    assert resend <= small + 2 and resolve <= small + 2
    assert Alert.objects.open().count() == 2


def test_severity_comes_from_the_label_and_the_receivers_map(am, receiver):
    receiver.severity_map = {"P1": "critical"}
    receiver.default_severity = "info"
    receiver.save()
    post(am, am_payload(am_alert(fp="1" * 16, severity="P1"), am_alert(fp="2" * 16, severity="bogus")))
    assert sorted(Alert.objects.values_list("severity", flat=True)) == ["critical", "info"]


def test_the_evaluator_leaves_received_alerts_alone(am):
    post(am, am_payload())
    rules_evaluate()
    assert Alert.objects.get().status == AlertStatus.FIRING


def test_a_disabled_managed_rule_drops_the_alerts(am, receiver):
    rule = receiver_rule(receiver)
    rule.enabled = False
    rule.save()
    assert post(am, am_payload()).json()["ignored"] == 1
    assert not Alert.objects.exists()


def test_the_same_fingerprint_from_two_receivers_is_two_alerts(am, other_service):
    other = Receiver.objects.create(name="staging", kind=ReceiverKind.ALERTMANAGER, service=other_service)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {receiver_token_issue(receiver=other)}")
    post(am, am_payload())
    post(client, am_payload())
    assert Alert.objects.open().count() == 2


# --- auth -----------------------------------------------------------------------------------


def test_a_service_key_posts_to_its_services_receiver(key_client, service):
    response = post(key_client, am_payload())
    assert response.status_code == 200, response.content
    receiver = Receiver.objects.get()
    assert (receiver.name, receiver.kind, receiver.service) == ("checkout-alertmanager", "alertmanager", service)
    assert post(key_client, am_payload(), url=URL + "?service=checkout").json()["updated"] == 1


def test_another_services_key_is_refused(api_client, service):
    response = post(api_client("other_key"), am_payload(), url=URL + "?service=checkout")
    assert response.status_code == 403
    assert "service" in response.json()["detail"]
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, 401),
        ("Bearer rt_deadbeef_not-the-token", 401),
        ("Bearer pk_deadbeef_not-a-key", 401),
        ("Token nope", 401),
    ],
)
def test_wrong_credentials_are_refused(receiver, token, header, code):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    assert post(client, am_payload()).status_code == code
    assert not Alert.objects.exists()


def test_a_rotated_token_stops_working(am, receiver):
    receiver_token_issue(receiver=receiver)
    assert post(am, am_payload()).status_code == 401


def test_a_grafana_token_is_refused_here(service):
    grafana = Receiver.objects.create(name="grafana", kind=ReceiverKind.GRAFANA, service=service)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {receiver_token_issue(receiver=grafana)}")
    response = post(client, am_payload())
    assert response.status_code == 403 and "grafana receiver" in response.json()["detail"]


def test_a_token_may_not_name_another_service(am, other_service):
    assert post(am, am_payload(), url=URL + "?service=billing").status_code == 403


def test_a_disabled_receiver_refuses(am, receiver):
    Receiver.objects.filter(pk=receiver.pk).update(enabled=False)
    assert post(am, am_payload()).status_code == 403
    assert not Alert.objects.exists()


@pytest.mark.parametrize("actor", ["viewer", "operator", "admin"])
def test_people_cannot_post_alerts(api_client, actor):
    assert post(api_client(actor), am_payload()).status_code == 403


# --- bad payloads and limits ----------------------------------------------------------------


def _with(change):
    payload = am_payload(am_alert(fp="1" * 16), am_alert(fp="2" * 16), am_alert(fp="3" * 16))
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(alerts="nope"), "alerts"),
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p.update(status="pending"), "status"),
        (lambda p: p["alerts"].__setitem__(1, "x"), "alerts[1]"),
        (lambda p: p["alerts"][2].update(labels=["a"]), "alerts[2].labels"),
        (lambda p: p["alerts"][2].update(labels={}), "alerts[2].labels"),
        (lambda p: p["alerts"][0]["labels"].update(severity=3), "alerts[0].labels.severity"),
        (lambda p: p["alerts"][0]["labels"].update({f"l{i}": "v" for i in range(70)}), "alerts[0].labels"),
        (lambda p: p["alerts"][0]["labels"].update(job="x" * 2000), "alerts[0].labels.job"),
        (lambda p: p["alerts"][1].update(status="active"), "alerts[1].status"),
        (lambda p: p["alerts"][1].update(annotations="text"), "alerts[1].annotations"),
        (lambda p: p["alerts"][1].update(fingerprint=12), "alerts[1].fingerprint"),
        (lambda p: p["alerts"][1].update(generatorURL="h" * 3000), "alerts[1].generatorURL"),
        (lambda p: p.update(alerts=p["alerts"] * (MAX_ALERTS // 3 + 1)), "alerts"),
    ],
)
def test_bad_payloads_are_refused_naming_the_field(am, change, field):
    response = post(am, _with(change))
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Alert.objects.exists()


def test_a_body_that_is_not_json_names_the_body(am):
    response = am.post(URL, b"{nope", content_type="application/json")
    assert response.status_code == 400 and "body" in response.json()


def test_a_body_over_the_limit_is_413_before_parsing(am, monkeypatch):
    monkeypatch.setattr("monitoring.integrations.receiver_views.MAX_BODY_BYTES", 1000)
    response = am.post(URL, b"{" + b" " * 2000, content_type="application/json")  # not JSON: never parsed
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 1000


def test_a_payload_without_fingerprints_is_keyed_by_labels(am):
    alert = am_alert()
    del alert["fingerprint"]
    post(am, am_payload(copy.deepcopy(alert)))
    post(am, am_payload(copy.deepcopy(alert)))
    assert Alert.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_the_same_group_at_once_open_each_alert_once(receiver, channel):
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once need PostgreSQL (SQLite serialises writers anyway)")
    raw = receiver_token_issue(receiver=receiver)
    payload = am_payload(*[am_alert(fp=f"{i:016x}", instance=f"web-{i}:8000") for i in range(50)])
    barrier = threading.Barrier(2)
    codes, errors = [], []

    def alertmanager():  # two Alertmanager replicas of one cluster both deliver the group
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            barrier.wait()
            codes.append(post(client, payload).status_code)
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=alertmanager) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and codes == [200, 200]
    assert Alert.objects.count() == 50
    assert Delivery.objects.filter(event="trigger").count() == 50
    assert AlertEvent.objects.filter(kind=EventKind.TRIGGERED).count() == 50


def test_a_metric_rule_with_the_managed_rules_name_is_never_adopted(am, receiver):
    metric_rule = AlertRule.objects.create(name="Prometheus Alertmanager: prod-alertmanager", metric="cpu")
    post(am, am_payload())
    receiver.refresh_from_db()
    assert receiver.rule != metric_rule and receiver.rule.source == RuleSource.EXTERNAL
    assert Alert.objects.get().rule == receiver.rule


def test_people_see_and_acknowledge_a_received_alert_on_its_page(am, page_client):
    post(am, am_payload())
    alert = Alert.objects.get()
    page = page_client("viewer").get(f"/alerts/{alert.pk}/").content.decode()
    assert "HighLatency on web-1" in page and "runbooks.example.org/latency" in page
    assert page_client("operator").post(f"/alerts/{alert.pk}/acknowledge/").status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert page_client("admin").get("/alerts/rules/").status_code == 200


def test_a_lone_surrogate_in_a_label_is_stored_as_the_replacement_character(am):
    # json.dumps escapes it; Python decodes it into text no database driver can write (was a 500).
    body = json.dumps(am_payload(am_alert(name="High\ud800Latency")))
    response = am.post(URL, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert Alert.objects.get().labels["alertname"] == "High\ufffdLatency"
