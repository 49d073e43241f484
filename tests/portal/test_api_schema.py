from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


def test_openapi_schema_generates_without_warnings(tmp_path, capsys):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target), stdout=StringIO())
    schema = yaml.safe_load(target.read_text())
    assert "/api/v1/services/" in schema["paths"]
    assert "ServiceKey" in schema["components"]["securitySchemes"]
    assert "Warning" not in capsys.readouterr().err


@pytest.mark.parametrize("actor, expected", [("anonymous", 401), ("viewer", 200), ("admin", 200), ("other_key", 403)])
def test_schema_endpoint_needs_a_person(api_client, actor, expected):
    assert api_client(actor).get("/api/schema/").status_code == expected


def test_swagger_ui_is_served_locally_without_a_cdn(page_client):
    response = page_client("viewer").get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_api_root_lists_the_registered_endpoints(api_client):
    body = api_client("viewer").get("/api/v1/").json()
    assert {"services", "service-keys", "deployments"} <= set(body)


def test_docs_page_sends_anonymous_people_to_login(page_client):
    response = page_client("anonymous").get("/api/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_unknown_api_paths_answer_json_404(api_client):
    response = api_client("viewer").get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_every_operation_documents_the_refusals_it_can_answer():
    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert {"413", "415"} <= codes, (method, path)
    ingest = schema["paths"]["/api/v1/metrics/"]["post"]["responses"]
    assert "429" in ingest and "429" not in schema["paths"]["/api/v1/services/"]["post"]["responses"]
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert {} in token["security"] and "429" in token["responses"]  # open to anyone, locked out after failures
