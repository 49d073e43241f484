"""Ids and dates in query parameters: out of range is a 400 naming the parameter, never a 500
(an OverflowError on SQLite, a date overflow in the metrics query)."""

import pytest
from django.utils import timezone

BIG = "99999999999999999999"  # beyond 64 bits


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/codehealth/scans/", "repository"),
        ("/api/v1/codehealth/files/", "repository"),
        ("/api/v1/codehealth/files/", "scan"),
        ("/api/v1/codehealth/functions/", "file"),
        ("/api/v1/codehealth/functions/", "scan"),
        ("/api/v1/codehealth/functions/", "repository"),
        ("/api/v1/codehealth/debt/", "repository"),
        ("/api/v1/alerts/", "rule"),
        ("/api/v1/alert-events/", "alert"),
        ("/api/v1/alert-deliveries/", "alert"),  # generated from `filterset_fields`
        ("/api/v1/silences/", "rule"),
    ],
)
@pytest.mark.parametrize("value", [BIG, "-1", "1.5", "x"])
def test_ids_out_of_range_or_not_whole_are_400_naming_the_parameter(api_client, path, param, value):
    response = api_client("admin").get(path, {param: value})
    assert response.status_code == 400, response.content
    assert param in response.json()


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/codehealth/scans/", "repository"),
        ("/api/v1/codehealth/functions/", "file"),
        ("/api/v1/alerts/", "rule"),
    ],
)
def test_an_id_in_range_still_filters(api_client, path, param):
    response = api_client("viewer").get(path, {param: str(2**63 - 1)})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/alerts/", "since"),
        ("/api/v1/alerts/", "until"),
        ("/api/v1/alert-events/", "since"),
        ("/api/v1/silences/", "ends_at__gte"),  # generated from `filterset_fields`
        ("/api/v1/maintenance/tasks/", "due_before"),
        ("/api/v1/metrics/query/", "until"),
        ("/api/v1/metrics/query/", "since"),
        ("/api/v1/metrics/series/", "until"),
        ("/api/v1/metrics/series/", "since"),
    ],
)
@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00", "0001-01-01", "0001-01-01T00:00:00+01:00"]
)
def test_dates_out_of_range_are_400_naming_the_parameter(api_client, path, param, value):
    response = api_client("admin").get(path, {"name": "cpu", param: value})
    assert response.status_code == 400, response.content
    assert param in response.json()


def test_the_metrics_query_refuses_a_step_beyond_a_year(api_client):
    response = api_client("viewer").get("/api/v1/metrics/query/", {"name": "cpu", "step": 60 * 10**18})
    assert response.status_code == 400 and "step" in response.json()


def test_an_offset_beyond_postgresqls_range_is_read_in_utc(api_client):
    # ISO 8601 allows offsets up to ±23:59; PostgreSQL refuses those over ±15:59 (found by fuzzing).
    response = api_client("admin").get("/api/v1/errors/groups/", {"seen_since": "1970-01-04T08:46:50.174+20:54"})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ["/api/v1/alerts/", "/api/v1/metrics/query/", "/api/v1/maintenance/tasks/"])
def test_dates_in_range_still_work(api_client, path):
    now = timezone.now()
    params = {"name": "cpu", "since": (now - timezone.timedelta(hours=1)).isoformat(), "until": now.isoformat()}
    params["due_before"] = "2999-12-31T23:00:00Z"
    assert api_client("admin").get(path, params).status_code == 200


PAGED = ["/api/v1/services/", "/api/v1/alert-channels/", "/api/v1/codehealth/scans/"]  # page numbers
CURSORED = ["/api/v1/alerts/", "/api/v1/alert-events/", "/api/v1/health-check-results/"]  # cursors


@pytest.mark.parametrize("path", PAGED + CURSORED)
@pytest.mark.parametrize("value", ["abc", "true", "1.5", "null", "", "0", "-3", "501", BIG])
def test_an_invalid_page_size_is_400_naming_it(api_client, path, value):
    response = api_client("admin").get(path, {"page_size": value})
    assert response.status_code == 400, response.content
    assert "page_size" in response.json()


@pytest.mark.parametrize("path", PAGED + CURSORED)
@pytest.mark.parametrize("value", ["1", "500"])
def test_a_page_size_up_to_the_maximum_is_used(api_client, path, value):
    response = api_client("viewer").get(path, {"page_size": value})
    assert response.status_code == 200, response.content


def test_the_page_size_decides_how_many_rows_come_back(api_client, other_service):
    from tests.factories import ServiceFactory

    ServiceFactory.create_batch(3)
    body = api_client("viewer").get("/api/v1/services/", {"page_size": "2"}).json()
    assert len(body["results"]) == 2 and body["next"]


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("value", ["abc", "true", "1.5", "null", "", "0", "-1", BIG])
def test_an_invalid_page_number_is_400_naming_it(api_client, path, value):
    response = api_client("admin").get(path, {"page": value})
    assert response.status_code == 400, response.content
    assert "page" in response.json()


@pytest.mark.parametrize("path", PAGED)
def test_a_page_past_the_last_is_404(api_client, path):
    response = api_client("admin").get(path, {"page": "999"})
    assert response.status_code == 404, response.content


@pytest.mark.parametrize("path", CURSORED)
@pytest.mark.parametrize("value", ["abc", "", "null", "cD0yMDI2"])
def test_an_invalid_cursor_is_400_naming_it(api_client, path, value):
    response = api_client("admin").get(path, {"cursor": value})
    assert response.status_code == 400, response.content
    assert "cursor" in response.json()


def test_the_schema_documents_page_size_bounds_and_its_maximum():
    from drf_spectacular.generators import SchemaGenerator

    from portal.api.pagination import MAX_PAGE_SIZE

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in PAGED + CURSORED:
        params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        page_size = params["page_size"]
        assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}, path
        assert str(MAX_PAGE_SIZE) in page_size["description"], path
        if path in PAGED:
            assert params["page"]["schema"] == {"type": "integer", "minimum": 1}, path
        else:
            assert params["cursor"]["schema"] == {"type": "string"}, path


@pytest.mark.parametrize(
    ("path", "param", "value"),
    [
        ("/api/v1/alerts/", "until", ""),
        ("/api/v1/alerts/", "since", ""),
        ("/api/v1/alerts/", "rule", ""),
        ("/api/v1/alert-events/", "alert", ""),
        ("/api/v1/silences/", "ends_at__gte", ""),
        ("/api/v1/maintenance/tasks/", "due_before", ""),
        ("/api/v1/maintenance/tasks/", "kind", ""),
        ("/api/v1/codehealth/scans/", "status", ""),
        ("/api/v1/service-keys/", "revoked_at__isnull", "null"),
        ("/api/v1/service-keys/", "revoked_at__isnull", ""),
        ("/api/v1/service-keys/", "revoked_at__isnull", "maybe"),
        ("/api/v1/alert-rule-states/", "active_since__isnull", "null"),
        ("/api/v1/alert-channels/", "enabled", "null"),
        ("/api/v1/alert-rules/", "enabled", "yes please"),
        ("/api/v1/alerts/", "service", ""),
    ],
)
def test_a_filter_given_an_empty_or_unreadable_value_is_400_naming_it(api_client, path, param, value):
    response = api_client("admin").get(path, {param: value})
    assert response.status_code == 400, response.content
    assert param in response.json()


@pytest.mark.parametrize(
    ("path", "param", "value"),
    [
        ("/api/v1/service-keys/", "revoked_at__isnull", "true"),
        ("/api/v1/service-keys/", "revoked_at__isnull", "false"),
        ("/api/v1/alert-channels/", "enabled", "1"),
        ("/api/v1/alerts/", "service", "checkout"),
    ],
)
def test_readable_filter_values_still_filter(api_client, path, param, value):
    assert api_client("admin").get(path, {param: value}).status_code == 200


def test_the_browsable_api_filter_form_may_leave_fields_empty(api_client):
    # Its form submits every field; an empty one there means "any".
    response = api_client("admin").get("/api/v1/alerts/", {"until": "", "rule": "", "format": "api"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/metrics/query/", "until"),
        ("/api/v1/metrics/query/", "since"),
        ("/api/v1/metrics/query/", "step"),
        ("/api/v1/metrics/query/", "agg"),
        ("/api/v1/metrics/query/", "service"),
        ("/api/v1/metrics/query/", "label"),
        ("/api/v1/metrics/series/", "until"),
        ("/api/v1/metrics/series/", "service"),
    ],
)
def test_an_empty_query_parameter_is_400_naming_it(api_client, path, param):
    response = api_client("viewer").get(path, {"name": "cpu", param: ""})
    assert response.status_code == 400, response.content
    assert param in response.json()
