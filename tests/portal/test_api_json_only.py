"""The API reads JSON bodies only. Form bodies lost what a form cannot say: nested lists
(an escalation policy's `steps`) vanished, and an empty field (`due_at=`, `environment=`)
read as "not given" instead of being refused. A body of another type is a 415; the token
exchange alone takes forms too, since scripts and curl post forms there."""

import json

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from maintenance.models import MaintenanceTask
from monitoring.alerting.models import Channel, EscalationPolicy
from portal.models import Deployment

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def channel(db):
    return Channel.objects.create(name="ops mail", kind="email", addresses=["ops@example.com"])


def test_a_form_body_is_415_and_creates_nothing(api_client, channel):
    client = api_client("admin")
    body = f"name=night&steps[0]wait_minutes=0&steps[0]channels={channel.pk}"
    response = client.post("/api/v1/escalation-policies/", body, content_type=FORM)
    assert response.status_code == 415, response.content
    assert "detail" in response.json()
    assert not EscalationPolicy.objects.exists()


def test_a_multipart_body_is_415(api_client, service):
    client = api_client("admin")
    response = client.post("/api/v1/deployments/", {"service": service.slug, "version": "1.0"}, format="multipart")
    assert response.status_code == 415, response.content
    assert not Deployment.objects.exists()


def test_a_json_policy_keeps_its_steps(api_client, channel):
    body = {"name": "night", "steps": [{"wait_minutes": 0, "channels": [channel.pk]}]}
    response = api_client("admin").post("/api/v1/escalation-policies/", body, format="json")
    assert response.status_code == 201, response.content
    assert EscalationPolicy.objects.get().steps.count() == 1


def test_an_empty_due_date_is_refused_not_ignored(api_client):
    now = timezone.now()
    task = MaintenanceTask.objects.create(kind="refactor", title="tidy", created_at=now, updated_at=now)
    client = api_client("admin")
    form = client.patch(f"/api/v1/maintenance/tasks/{task.pk}/", "due_at=", content_type=FORM)
    assert form.status_code == 415
    response = client.patch(f"/api/v1/maintenance/tasks/{task.pk}/", {"due_at": ""}, format="json")
    assert response.status_code == 400 and "due_at" in response.json()


def test_an_empty_environment_is_refused_not_defaulted(api_client, service):
    client = api_client("admin")
    form = client.post("/api/v1/deployments/", f"service={service.slug}&version=1&environment=", content_type=FORM)
    assert form.status_code == 415
    body = {"service": service.slug, "version": "1", "environment": ""}
    response = client.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400 and "environment" in response.json()
    assert not Deployment.objects.exists()


def test_a_service_key_posting_a_form_gets_415(key_client):
    response = key_client.post("/api/v1/deployments/", "version=1", content_type=FORM)
    assert response.status_code == 415


def test_the_token_exchange_still_takes_a_form(client, users):
    users["viewer"].set_password("pw-123456")
    users["viewer"].save()
    response = client.post("/api/v1/auth/token/", "username=viewer&password=pw-123456", content_type=FORM)
    assert response.status_code == 200 and response.json()["token"]
    as_json = json.dumps({"username": "viewer", "password": "pw-123456"})
    assert client.post("/api/v1/auth/token/", as_json, content_type="application/json").status_code == 200


def test_the_schema_documents_json_request_bodies_only():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    bodies = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                bodies[(method, path)] = set(operation["requestBody"]["content"])
    assert ("post", "/api/v1/escalation-policies/") in bodies
    token = bodies.pop(("post", "/api/v1/auth/token/"))
    assert "application/x-www-form-urlencoded" in token
    # navigator.sendBeacon sends a string as text/plain (no CORS preflight); its body is JSON too.
    assert bodies.pop(("post", "/api/v1/vitals/")) == {"text/plain", "application/json"}
    # OpenTelemetry exporters post OTLP/HTTP as protobuf (their default) or as its JSON mapping.
    assert bodies.pop(("post", "/v1/metrics")) == {"application/x-protobuf", "application/json"}
    other = {key: media for key, media in bodies.items() if media != {"application/json"}}
    assert not other


def test_a_nul_in_a_slug_or_json_field_is_a_400_naming_the_field(api_client, service):
    # PostgreSQL stores no NUL in text or jsonb: without the check the lookup or the write fails with a 500.
    client = api_client("admin")
    response = client.post("/api/v1/errors/projects/", {"service": "shop\x00"}, format="json")
    assert response.status_code == 400 and "service" in response.json(), response.content
    body = {"service": service.slug, "name": "nightly", "kind": "heartbeat", "config": {"\x00": ["x"]}}
    response = client.post("/api/v1/health-checks/", body, format="json")
    assert response.status_code == 400 and "config" in response.json(), response.content
