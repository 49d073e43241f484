"""The integrations' endpoints in the OpenAPI schema (/api/schema/): the OTLP endpoint with both
content types and its own error bodies, the webhook receivers and the receivers API."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from rest_framework.test import APIClient

PROTOBUF = "application/x-protobuf"


@pytest.fixture(scope="module")
def schema():
    """What /api/schema/ serves (generated once: it takes seconds)."""
    return SchemaGenerator().get_schema(request=None, public=True)


def test_v1_metrics_is_documented_with_both_encodings(schema):
    operation = schema["paths"]["/v1/metrics"]["post"]
    assert operation["operationId"] == "otlp_metrics_export"
    assert set(operation["requestBody"]["content"]) == {"application/json", PROTOBUF}
    assert operation["requestBody"]["content"][PROTOBUF]["schema"] == {"type": "string", "format": "binary"}
    assert set(operation["responses"]["200"]["content"]) == {"application/json", PROTOBUF}
    for code in ("400", "401", "403", "413", "415"):
        assert operation["responses"][code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/OtlpStatus"
        }, code
    assert operation["security"] == [{"ServiceKey": []}]
    assert set(schema["components"]["schemas"]["OtlpStatus"]["properties"]) == {"code", "message"}


def test_receivers_and_their_api_are_documented(schema):
    paths = schema["paths"]
    for kind in ("alertmanager", "grafana"):
        operation = paths[f"/api/v1/integrations/{kind}/"]["post"]
        assert "application/json" in operation["requestBody"]["content"]
        assert {"ReceiverToken": []} in operation["security"]
    assert set(paths["/api/v1/integrations/receivers/"]) == {"get", "post"}
    assert set(paths["/api/v1/integrations/receivers/{id}/"]) == {"get", "put", "patch", "delete"}
    assert "post" in paths["/api/v1/integrations/receivers/{id}/token/"]
    assert "post" in paths["/api/v1/integrations/receivers/{id}/revoke-token/"]
    created = paths["/api/v1/integrations/receivers/"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"] == {"$ref": "#/components/schemas/IssuedReceiverToken"}
    assert "token" in schema["components"]["schemas"]["IssuedReceiverToken"]["properties"]
    assert "token" not in schema["components"]["schemas"]["Receiver"]["properties"]
    # Operation ids keep the /api/ prefix out although /v1/metrics is not under it.
    assert paths["/api/v1/integrations/receivers/"]["get"]["operationId"] == "v1_integrations_receivers_list"


@pytest.mark.django_db
def test_v1_metrics_answers_whatever_the_accept_header(service_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {service_key.raw}")
    body = ExportMetricsServiceRequest().SerializeToString()
    for accept in (PROTOBUF, "text/html", ""):
        answer = client.post("/v1/metrics", body, content_type=PROTOBUF, HTTP_ACCEPT=accept)
        assert answer.status_code == 200, (accept, answer.content)
        assert answer["Content-Type"] == PROTOBUF
        ExportMetricsServiceResponse().ParseFromString(answer.content)
    assert client.get("/v1/metrics").status_code == 405
