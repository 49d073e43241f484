"""The database unreachable for a moment answers 503 with Retry-After (clients and load
balancers retry), not a 500 that says the portal is broken: JSON for the API and the endpoints
machines call, a plain page for people. Simulated at one edge: the connection's cursor."""

import uuid

import pytest
from django.db import InterfaceError, OperationalError, connection
from drf_spectacular.generators import SchemaGenerator

from portal.middleware import RETRY_AFTER_SECONDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable(monkeypatch):
    """Every query in the next request fails as it does when the server is down."""

    def start(error: Exception | None = None):
        def cursor(*args, **kwargs):
            raise error or OperationalError("could not connect to server: Connection refused")

        monkeypatch.setattr(connection, "cursor", cursor)
        return monkeypatch.undo

    return start


@pytest.mark.parametrize("error", [OperationalError("connection refused"), InterfaceError("connection already closed")])
def test_the_api_answers_503_json_with_retry_after(api_client, unreachable, error):
    client = api_client("admin")
    back = unreachable(error)
    response = client.get("/api/v1/services/")
    back()
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"] == "application/json"
    assert "database" in response.json()["detail"]
    assert client.get("/api/v1/services/").status_code == 200  # back once it answers again


def test_a_service_writing_metrics_gets_503_to_retry(key_client, unreachable):
    back = unreachable()
    response = key_client.post("/api/v1/metrics/", {"samples": [{"name": "m", "value": 1}]}, format="json")
    back()
    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["detail"]


def test_a_heartbeat_ping_gets_503_json(client, unreachable):
    back = unreachable()
    response = client.post(f"/ping/{uuid.uuid4()}", "done", content_type="text/plain")
    back()
    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["detail"]


def test_readiness_answers_503_json(client, unreachable):
    back = unreachable()
    response = client.get("/health/ready")
    back()
    assert response.status_code == 503 and response.json()["detail"]


def test_a_person_gets_a_plain_page(page_client, unreachable):
    client = page_client("viewer")
    back = unreachable()
    response = client.get("/monitoring/")
    back()
    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    assert "database" in response.content.decode().lower()


def test_other_errors_are_still_errors(api_client, unreachable):
    client = api_client("admin")
    back = unreachable(ValueError("a bug"))
    try:
        with pytest.raises(ValueError):
            client.get("/api/v1/services/")
    finally:
        back()


def test_the_schema_documents_the_503_on_ingest():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, method in [("/api/v1/metrics/", "post"), ("/api/v1/deployments/", "post"), ("/api/v1/alerts/", "get")]:
        response = schema["paths"][path][method]["responses"]["503"]
        assert "Retry-After" in response["headers"], path
