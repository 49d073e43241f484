"""Grafana alerting's webhook contact point → portal alerts, like Alertmanager's."""

import pytest
from rest_framework.test import APIClient

from monitoring.alerting.models import Alert, AlertStatus, Channel, Delivery, EventKind
from monitoring.integrations.models import Receiver, ReceiverKind
from monitoring.integrations.receivers import receiver_rule, receiver_token_issue

URL = "/api/v1/integrations/grafana/"


def grafana_alert(fp="c6eadffa33fcdf37", status="firing", zone="us-1", values=None):
    return {
        "status": status,
        "labels": {"alertname": "High memory usage", "team": "blue", "zone": zone, "severity": "warning"},
        "annotations": {
            "description": "The system has high memory usage",
            "runbook_url": "https://runbooks.example.org/memory",
            "summary": f"Memory above 90% in {zone}",
        },
        "startsAt": "2026-12-02T03:51:03.157076+00:00",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana.example.org/alerting/grafana/1afz29v7z/view",
        "fingerprint": fp,
        "silenceURL": "https://grafana.example.org/alerting/silence/new?matchers=alertname%3DHigh+memory+usage",
        "dashboardURL": "https://grafana.example.org/d/abc123",
        "panelURL": "https://grafana.example.org/d/abc123?viewPanel=4",
        "values": values if values is not None else {"B": 93.25, "C": 1},
    }


def grafana_payload(*alerts):
    alerts = list(alerts) or [grafana_alert()]
    firing = [a for a in alerts if a["status"] == "firing"]
    return {
        "receiver": "portal",
        "status": "firing" if firing else "resolved",
        "orgId": 1,
        "alerts": alerts,
        "groupLabels": {"alertname": "High memory usage"},
        "commonLabels": {"alertname": "High memory usage", "team": "blue"},
        "commonAnnotations": {},
        "externalURL": "https://grafana.example.org/",
        "version": "1",
        "groupKey": '{}:{alertname="High memory usage"}',
        "truncatedAlerts": 0,
        "title": f"[FIRING:{len(firing)}] High memory usage",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=93.25, C=1",
    }


@pytest.fixture
def receiver(service):
    return Receiver.objects.create(name="grafana-prod", kind=ReceiverKind.GRAFANA, service=service)


@pytest.fixture
def grafana(receiver):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {receiver_token_issue(receiver=receiver)}")
    return client


def post(client, payload, url=URL):
    return client.post(url, payload, format="json")


def test_a_grafana_alert_becomes_a_portal_alert(grafana, receiver, service):
    response = post(grafana, grafana_payload())
    assert response.status_code == 200, response.content
    assert response.json()["fired"] == 1
    alert = Alert.objects.get()
    assert alert.rule == receiver_rule(receiver) and alert.service == service
    assert alert.summary == "Memory above 90% in us-1"
    assert alert.severity == "warning"
    assert alert.labels["zone"] == "us-1"
    assert alert.value is None  # two values (reduce and threshold): none is "the" value
    for line in (
        "The system has high memory usage",
        "runbook_url: https://runbooks.example.org/memory",
        "dashboardURL: https://grafana.example.org/d/abc123",
        "panelURL: https://grafana.example.org/d/abc123?viewPanel=4",
        "values: B=93.25, C=1",
    ):
        assert line in alert.description


def test_a_single_value_is_the_alerts_value(grafana):
    post(grafana, grafana_payload(grafana_alert(values={"B": 93.25})))
    assert Alert.objects.get().value == 93.25


def test_older_grafana_value_strings_are_shown(grafana):
    alert = grafana_alert()
    del alert["values"]
    alert["valueString"] = "[ var='B' labels={} value=93.25 ]"
    post(grafana, grafana_payload(alert))
    assert "values: [ var='B' labels={} value=93.25 ]" in Alert.objects.get().description


def test_resent_then_resolved(grafana, receiver):
    channel = Channel.objects.create(name="grafana mail", kind="email", addresses=["oncall@example.org"])
    receiver_rule(receiver).channels.add(channel)
    post(grafana, grafana_payload(grafana_alert(), grafana_alert(fp="bc97ff14869b13e3", zone="eu-1")))
    assert post(grafana, grafana_payload(grafana_alert())).json()["updated"] == 1
    assert Alert.objects.count() == 2
    assert Delivery.objects.filter(event="trigger").count() == 2  # one per alert, none for the re-send
    response = post(grafana, grafana_payload(grafana_alert(status="resolved")))
    assert response.json()["resolved"] == 1
    resolved = Alert.objects.get(labels__zone="us-1")
    assert resolved.status == AlertStatus.RESOLVED
    assert resolved.events.get(kind=EventKind.RESOLVED).details == {"by": "grafana"}
    assert Alert.objects.get(labels__zone="eu-1").status == AlertStatus.FIRING


def test_an_alertmanager_token_is_refused_here(service):
    other = Receiver.objects.create(name="am", kind=ReceiverKind.ALERTMANAGER, service=service)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {receiver_token_issue(receiver=other)}")
    assert post(client, grafana_payload()).status_code == 403


def test_a_service_key_gets_its_services_grafana_receiver(key_client, api_client):
    assert post(key_client, grafana_payload()).status_code == 200
    assert Receiver.objects.get().name == "checkout-grafana"
    assert post(api_client("other_key"), grafana_payload(), url=URL + "?service=checkout").status_code == 403
    assert post(APIClient(), grafana_payload()).status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(version="4"), "version"),
        (lambda p: p["alerts"][0].update(values=[1, 2]), "alerts[0].values"),
        (lambda p: p["alerts"][0].update(values={"B": "high"}), "alerts[0].values.B"),
        (lambda p: p["alerts"][0].update(dashboardURL=5), "alerts[0].dashboardURL"),
        (lambda p: p["alerts"][0].update(valueString=["x"]), "alerts[0].valueString"),
    ],
)
def test_bad_grafana_payloads_name_the_field(grafana, change, field):
    payload = grafana_payload()
    change(payload)
    response = post(grafana, payload)
    assert response.status_code == 400 and field in response.json(), response.json()


def test_non_finite_values_are_refused(grafana):
    response = grafana.post(
        URL,
        b'{"version": "1", "alerts": [{"status": "firing", "labels": {"a": "b"}, "values": {"B": NaN}}]}',
        content_type="application/json",
    )
    assert response.status_code == 400 and "alerts[0].values.B" in response.json()
