"""Analytics pages (features table, feature detail) and their chart JSON: roles, figures,
"not enough data", sorting, nav entry and query counts."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.rollups import rollup_run
from analytics.store import events_insert

PAGE_ACTORS = ["anonymous", "norole", "viewer", "operator", "admin", "other_key"]
pytestmark = pytest.mark.django_db


def client_for(page_client, other_key, actor) -> Client:
    if actor == "other_key":  # a service key means nothing to pages: it is an anonymous visitor
        return Client(HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    return page_client(actor)


@pytest.fixture
def data(service):
    now = timezone.now()
    items = [
        {"name": "reports/export", "duration_ms": 100.0 + i, "time": (now - timedelta(minutes=i % 50)).isoformat()}
        for i in range(40)
    ]
    items += [{"name": "search", "duration_ms": 5.0, "success": False, "error_type": "KeyError"}] * 3
    events_insert(service=service, items=items)


PAGES = [
    reverse("analytics:features"),
    reverse("analytics:features") + "?range=7d&sort=p95&service=checkout",
    reverse("analytics:feature", args=["reports/export"]) + "?range=1h",
]
CHARTS = [
    reverse("analytics:chart-calls", args=["reports/export"]) + "?range=1d",
    reverse("analytics:chart-p95", args=["reports/export"]) + "?range=1h&service=checkout",
]


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_page_role_matrix(page_client, other_key, data, actor):
    client = client_for(page_client, other_key, actor)
    for url in PAGES:
        response = client.get(url)
        if actor in ("anonymous", "other_key"):
            assert response.status_code == 302 and "/login/" in response["Location"], url
        elif actor == "norole":
            assert response.status_code == 403, url
        else:
            assert response.status_code == 200, url
    for url in CHARTS:
        expected = 200 if actor in ("viewer", "operator", "admin") else 403
        assert client.get(url).status_code == expected, url


def test_the_table_shows_figures_and_not_enough_data(page_client, data, settings):
    settings.ANALYTICS_MIN_SAMPLES = 30
    page = page_client("viewer").get(reverse("analytics:features") + "?range=1h&sort=name").content.decode()
    assert "reports/export" in page and "search" in page
    assert page.index("reports/export") < page.index(">search<")  # sorted by name
    assert "100 %" in page  # export's success rate
    assert "not enough data" in page  # search: 3 calls
    assert reverse("analytics:feature", args=["reports/export"]) in page


def test_the_feature_page_shows_figures_errors_and_chart_urls(page_client, service, data, settings):
    settings.ANALYTICS_MIN_SAMPLES = 3
    page = page_client("viewer").get(reverse("analytics:feature", args=["search"]) + "?range=1h").content.decode()
    assert "KeyError" in page and "100 %" in page  # every call failed
    assert reverse("analytics:chart-calls", args=["search"]) + "?range=1h" in page


def test_chart_json_counts_calls_and_errors(page_client, data):
    body = page_client("viewer").get(reverse("analytics:chart-calls", args=["search"]) + "?range=1h").json()
    calls, errors = body["datasets"]
    assert sum(calls["data"]) == 3 and sum(errors["data"]) == 3
    assert len(body["labels"]) in (60, 61)  # minute buckets; the first one partial unless aligned
    p95 = page_client("viewer").get(reverse("analytics:chart-p95", args=["search"]) + "?range=1h").json()
    assert [v for v in p95["datasets"][0]["data"] if v is not None] == [pytest.approx(5, rel=0.01)]


def test_an_unknown_service_is_404(page_client, data):
    assert page_client("viewer").get(reverse("analytics:features") + "?service=nope").status_code == 404


def test_nav_has_analytics(page_client):
    assert b">Analytics</a>" in page_client("viewer").get("/").content


def test_pages_cost_a_fixed_number_of_queries(page_client, service, django_assert_max_num_queries):
    now = timezone.now()
    for i in range(50):
        events_insert(
            service=service,
            items=[{"name": f"f{i}", "duration_ms": 1.0, "time": (now - timedelta(days=1)).isoformat()}] * 3,
        )
    rollup_run()
    client = page_client("viewer")
    # Per window: the watermark, the rollups, and three reads of events not folded yet; plus
    # session, user and the services of the rows. None of it grows with the number of features.
    with django_assert_max_num_queries(16):
        assert client.get(reverse("analytics:features") + "?range=7d").status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(reverse("analytics:feature", args=["f1"]) + "?range=30d").status_code == 200


def test_the_event_admin_is_read_only_with_filters_and_capped_counts(
    page_client, service, data, django_assert_max_num_queries
):
    admin = page_client("admin")
    url = reverse("admin:analytics_usageevent_changelist")
    with django_assert_max_num_queries(12):
        page = admin.get(url + "?kind__exact=feature&success__exact=0&q=search")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 3
    assert page.context["cl"].model_admin.show_full_result_count is False
    event = page.context["cl"].result_list[0]
    assert admin.get(reverse("admin:analytics_usageevent_add")).status_code == 403
    assert admin.post(reverse("admin:analytics_usageevent_change", args=[event.pk]), {}).status_code == 403
    assert admin.get(reverse("admin:analytics_featurehourrollup_changelist")).status_code == 200
    assert page_client("viewer").get(url).status_code == 302
