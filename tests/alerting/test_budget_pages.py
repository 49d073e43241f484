"""/monitoring/budgets/: who sees it, what it shows, and that a budget's rule is not edited
in the rule builder."""

from datetime import timedelta

import pytest

from monitoring.alerting.budgets import budget_save
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import PerformanceBudget
from tests.alerting.conftest import T0

URL = "/monitoring/budgets/"

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("actor", "status"), [("anonymous", 302), ("viewer", 200), ("operator", 200), ("admin", 200)])
def test_viewers_and_up_read_the_budgets(page_client, users, actor, status):
    assert page_client(actor).get(URL).status_code == status


def test_another_services_key_is_no_login(client, other_key):
    response = client.get(URL, headers={"Authorization": f"Bearer {other_key.raw}"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_it_shows_each_budget_and_whether_it_is_breached(clock, sample, page_client, users, service):
    breached = budget_save(budget=PerformanceBudget(service=service, route="/pay/", kind="p95", limit=100))
    budget_save(budget=PerformanceBudget(service=service, kind="error_rate", limit=1))
    budget_save(budget=PerformanceBudget(service=service, kind="LCP", limit=2500, enabled=False))
    sample(service, "http_request_duration_seconds", 2.0, T0, route="/pay/", method="GET", status_class="2xx")
    clock.move_to(T0 + timedelta(minutes=1))
    assert rules_evaluate().fired == 1
    html = page_client("viewer").get(URL).content.decode()
    assert "<code>/pay/</code>" in html and "all routes" in html
    assert html.count(">breached<") == 1 and html.count(">within<") == 1 and html.count(">disabled<") == 1
    alert = breached.rule.alerts.get()
    assert f'href="/alerts/{alert.pk}/"' in html
    assert "p95(http_request_duration_seconds[15m]) by (service, route) &gt; 0.1" in html


def test_the_page_costs_a_fixed_number_of_queries(page_client, users, service, django_assert_max_num_queries):
    for i in range(30):
        budget_save(budget=PerformanceBudget(service=service, route=f"/r{i}/", kind="p99", limit=300))
    client = page_client("viewer")
    client.get(URL)
    with django_assert_max_num_queries(8):
        assert client.get(URL).status_code == 200


def test_the_rule_builder_sends_a_budgets_rule_to_the_budget(page_client, users, service):
    budget = budget_save(budget=PerformanceBudget(service=service, kind="p50", limit=100))
    response = page_client("admin").post(f"/alerts/rules/{budget.rule_id}/edit/", {"threshold": "9"})
    assert response.status_code == 302 and response["Location"] == URL
    budget.rule.refresh_from_db()
    assert budget.rule.threshold == 0.1
