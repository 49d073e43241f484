"""/api/v1/budgets/: who may read and write, validation naming the field, and the managed rule."""

from datetime import timedelta

import pytest

from monitoring.alerting.budgets import budget_save
from monitoring.alerting.models import AlertRule, PerformanceBudget

URL = "/api/v1/budgets/"
BODY = {"service": "checkout", "route": "/orders/<int:pk>/", "kind": "p95", "limit": 800, "window": "00:10:00"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def existing(service):
    return budget_save(budget=PerformanceBudget(service=service, kind="error_rate", limit=2))


@pytest.mark.parametrize(
    ("actor", "read", "write"),
    [("anonymous", 401, 401), ("viewer", 200, 403), ("operator", 200, 201), ("admin", 200, 201),
     ("other_key", 403, 403)],
)  # fmt: skip
def test_people_read_with_viewer_and_write_with_operator_and_keys_are_refused(api_client, existing, actor, read, write):
    client = api_client(actor)
    assert client.get(URL).status_code == read
    assert client.get(f"{URL}{existing.pk}/").status_code == read
    assert client.post(URL, BODY, format="json").status_code == write
    changed = client.patch(f"{URL}{existing.pk}/", {"limit": 3}, format="json").status_code
    assert changed == (200 if write == 201 else write)
    deleted = client.delete(f"{URL}{existing.pk}/").status_code
    assert deleted == (204 if write == 201 else write)


def test_creating_a_budget_creates_its_rule_and_changing_it_updates_the_rule(api_client, service):
    client = api_client("operator")
    response = client.post(URL, BODY, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    rule = AlertRule.objects.get(pk=data["rule"])
    assert (rule.metric, rule.aggregation, rule.threshold) == ("http_request_duration_seconds", "p95", 0.8)
    assert rule.window == timedelta(minutes=10) and rule.service == service
    assert data["condition"] == rule.condition_text
    assert client.patch(f"{URL}{data['id']}/", {"kind": "p99", "limit": 1500}, format="json").status_code == 200
    rule.refresh_from_db()
    assert (rule.aggregation, rule.threshold) == ("p99", 1.5)
    assert client.delete(f"{URL}{data['id']}/").status_code == 204
    assert not AlertRule.objects.filter(pk=rule.pk).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"limit": 101, "kind": "error_rate"}, "limit"),
        ({"limit": -5}, "limit"),
        ({"limit": 1e9}, "limit"),
        ({"kind": "p42"}, "kind"),
        ({"route": "orders/"}, "route"),
        ({"route": "/" + "x" * 200}, "route"),
        ({"window": "2 00:00:00"}, "window"),
        ({"service": "nope"}, "service"),
    ],
)
def test_bad_input_is_400_naming_the_field(api_client, service, change, field):
    response = api_client("operator").post(URL, {**BODY, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not AlertRule.objects.exists()


def test_a_second_budget_of_the_same_kind_for_the_route_is_refused(api_client, service):
    client = api_client("operator")
    assert client.post(URL, BODY, format="json").status_code == 201
    assert client.post(URL, BODY, format="json").status_code == 400
    assert AlertRule.objects.count() == 1


def test_the_managed_rule_is_changed_through_its_budget_only(api_client, existing):
    response = api_client("admin").patch(f"/api/v1/alert-rules/{existing.rule_id}/", {"threshold": 9}, format="json")
    assert response.status_code == 400
    assert "budget" in str(response.json())


def test_the_list_costs_a_fixed_number_of_queries(api_client, service, other_service, django_assert_max_num_queries):
    for i in range(10):
        budget_save(budget=PerformanceBudget(service=service, route=f"/r{i}/", kind="p95", limit=100))
        budget_save(budget=PerformanceBudget(service=other_service, route=f"/r{i}/", kind="LCP", limit=2500))
    client = api_client("viewer")
    with django_assert_max_num_queries(8):
        response = client.get(URL)
    assert response.status_code == 200 and response.json()["count"] == 20
