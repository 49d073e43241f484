"""The operations and trends pages and their chart JSON: who may open them, bad input, queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.alerting.models import Alert, AlertEvent, AlertRule
from monitoring.ingest import samples_write
from tests.monitoring.conftest import row

PAGES = [
    "/reporting/operations/",
    "/reporting/operations/chart/",
    "/reporting/trends/",
    "/reporting/trends/?metric=disk_percent",
    "/reporting/trends/chart/?metric=disk_percent",
]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize(("actor", "code"), [("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200)])
def test_who_may_open_the_pages(page_client, url, actor, code):
    assert page_client(actor).get(url).status_code == code


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_people_are_sent_to_log_in_or_refused(page_client, url):
    response = page_client("anonymous").get(url)
    assert response.status_code == (403 if "chart" in url else 302)


@pytest.mark.parametrize("url", PAGES)
def test_another_services_key_opens_no_page(client, other_key, url):
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    assert response.status_code in (302, 403)


def test_the_nav_shows_reports(page_client):
    assert (
        'href="/reporting/operations/">Reports<' in page_client("viewer").get("/reporting/operations/").content.decode()
    )


@pytest.mark.parametrize(
    ("url", "field"),
    [("/reporting/operations/?range=1y", "range"), ("/reporting/trends/?metric=a%20b", "metric")],
)
def test_bad_input_is_a_400_naming_the_field(page_client, url, field):
    response = page_client("viewer").get(url)
    assert response.status_code == 400
    assert f"<li>{field}: " in response.content.decode()


def test_the_operations_page_costs_the_same_queries_for_many_alerts(
    page_client, service, django_assert_max_num_queries
):
    client = page_client("viewer")
    rule = AlertRule.objects.create(name="disk", metric="disk_percent", threshold=90)
    now = timezone.now()

    def add(n):
        for i in range(n):
            alert = Alert.objects.create(
                rule=rule, service=service, fingerprint=f"{n}-{i}", summary="x", created_at=now - timedelta(hours=i + 1)
            )
            AlertEvent.objects.create(alert=alert, kind="triggered", created_at=alert.created_at)

    add(1)
    with django_assert_max_num_queries(20) as few:
        assert client.get("/reporting/operations/?by=rule").status_code == 200
    add(40)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/reporting/operations/?by=rule")
    assert "<td>disk</td><td>41</td>" in response.content.decode()
    chart = client.get("/reporting/operations/chart/?range=24h").json()
    assert sum(chart["datasets"][1]["data"]) == 24  # warning alerts in the last 24 hours


def test_the_trends_page_shows_the_forecast_and_the_chart_its_line(page_client, service):
    now = timezone.now()
    samples_write([row(service, "disk_percent", 50 + h, now - timedelta(hours=48 - h), mount="/") for h in range(48)])
    client = page_client("viewer")
    page = client.get("/reporting/trends/?metric=disk_percent&range=24h&threshold=200").content.decode()
    # +24 a day, about 98 now: 200 is (200 - 98) / 24 = 4.25 days away, a little less as points
    # sit at the start of their 10-minute step.
    assert "<code>mount=/</code>" in page and "in 4.2 days" in page
    chart = client.get("/reporting/trends/chart/?metric=disk_percent&range=24h").json()
    values, fitted = chart["datasets"][0]["data"], chart["datasets"][1]["data"]
    assert chart["datasets"][1]["label"].endswith("(fit)")
    assert len(values) == len(fitted) == 144
