"""JSON bodies are read as typed, as the schema says: a string field takes a string, a number a
number, a boolean a boolean, a list a list. DRF read them like form text, so `"description": 0`
was stored as "0", `"min_pylint_score": false` as 0.0 and `"users": {}` as no users (all found
by the schema fuzzing). Query parameters and forms are text and are still read as text."""

import pytest
from django.utils import timezone

from codehealth.models import QualityGate
from maintenance.models import MaintenanceTask
from monitoring.alerting.models import AlertRule, Channel
from portal.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(db):
    return AlertRule.objects.create(name="High latency", metric="http_latency_ms", threshold=100)


@pytest.fixture
def channel(db):
    return Channel.objects.create(name="ops mail", kind="email", addresses=["ops@example.com"])


@pytest.mark.parametrize("value", [0, 1.5, True, ["x"], {"a": "b"}])
def test_a_string_field_refuses_other_types(api_client, value):
    response = api_client("admin").post(
        "/api/v1/services/", {"name": "Shop", "slug": "shop", "description": value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "description" in response.json()
    assert not Service.objects.filter(slug="shop").exists()


def test_a_secret_must_be_a_string(api_client):
    body = {"name": "hook", "kind": "webhook", "url": "https://example.com/h", "secret": 12345}
    response = api_client("admin").post("/api/v1/alert-channels/", body, format="json")
    assert response.status_code == 400 and "secret" in response.json()


@pytest.mark.parametrize("value", [False, True, "7.5"])
def test_a_number_field_refuses_booleans_and_text(api_client, value):
    response = api_client("admin").post(
        "/api/v1/codehealth/gates/", {"name": "gate", "min_pylint_score": value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "min_pylint_score" in response.json()
    assert not QualityGate.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("threshold", "100"), ("threshold", True), ("for_duration", 60)])
def test_rule_numbers_must_be_numbers(api_client, rule, field, value):
    response = api_client("admin").patch(f"/api/v1/alert-rules/{rule.pk}/", {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_a_boolean_field_refuses_other_types(api_client, rule, value):
    response = api_client("admin").patch(f"/api/v1/alert-rules/{rule.pk}/", {"enabled": value}, format="json")
    assert response.status_code == 400, response.content
    assert "enabled" in response.json()


@pytest.mark.parametrize("value", [{}, {"1": 1}, "1"])
def test_a_list_of_ids_refuses_objects_and_text(api_client, channel, value):
    body = {"name": "night", "steps": [{"wait_minutes": 0, "channels": [channel.pk], "users": value}]}
    response = api_client("admin").post("/api/v1/escalation-policies/", body, format="json")
    assert response.status_code == 400, response.content
    assert "steps" in response.json()


def test_an_id_given_as_text_is_refused(api_client, rule, channel):
    response = api_client("admin").patch(
        f"/api/v1/alert-rules/{rule.pk}/", {"channels": [str(channel.pk)]}, format="json"
    )
    assert response.status_code == 400 and "channels" in response.json()


def test_a_task_description_must_be_text(api_client):
    body = {"kind": "refactor", "title": "tidy", "description": 0, "priority": "low"}
    response = api_client("admin").post("/api/v1/maintenance/tasks/", body, format="json")
    assert response.status_code == 400 and "description" in response.json()
    assert not MaintenanceTask.objects.exists()


def test_well_typed_bodies_are_accepted(api_client, rule, channel):
    client = api_client("admin")
    body = {"threshold": 250.5, "for_duration": "00:02:00", "enabled": False, "channels": [channel.pk]}
    assert client.patch(f"/api/v1/alert-rules/{rule.pk}/", body, format="json").status_code == 200
    assert (
        client.post("/api/v1/codehealth/gates/", {"name": "g", "min_pylint_score": 7}, format="json").status_code == 201
    )
    rule.refresh_from_db()
    assert rule.threshold == 250.5 and rule.enabled is False


def test_query_parameters_are_still_read_as_text(api_client, rule):
    client = api_client("viewer")
    assert client.get("/api/v1/alerts/", {"rule": str(rule.pk)}).status_code == 200
    assert client.get("/api/v1/alert-rules/", {"enabled": "true"}).status_code == 200
    now = timezone.now().isoformat()
    assert client.get("/api/v1/metrics/query/", {"name": "cpu", "step": "120", "until": now}).status_code == 200


@pytest.mark.parametrize("value", ["0.5", "1e3", "x"])
def test_a_whole_number_filter_refuses_fractions(api_client, value):
    response = api_client("viewer").get("/api/v1/codehealth/functions/", {"min_complexity": value})
    assert response.status_code == 400 and "min_complexity" in response.json()


@pytest.mark.parametrize("value", ["", None, 5])
def test_metrics_ingest_refuses_a_service_that_is_not_a_slug(key_client, value):
    response = key_client.post("/api/v1/metrics/", {"service": value, "samples": []}, format="json")
    assert response.status_code == 400, response.content
    assert "service" in str(response.json())
