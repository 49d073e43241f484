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


@pytest.mark.parametrize("path", ["/api/v1/alerts/", "/api/v1/metrics/query/", "/api/v1/maintenance/tasks/"])
def test_dates_in_range_still_work(api_client, path):
    now = timezone.now()
    params = {"name": "cpu", "since": (now - timezone.timedelta(hours=1)).isoformat(), "until": now.isoformat()}
    params["due_before"] = "2999-12-31T23:00:00Z"
    assert api_client("admin").get(path, params).status_code == 200
