"""The reporting API: who may read it, bounded parameters (400 naming the field), CSV export."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from monitoring.alerting.models import Alert, AlertEvent, AlertRule
from monitoring.ingest import samples_write
from monitoring.models import HealthCheck, HealthCheckResult
from tests.monitoring.conftest import row

URLS = [
    "/api/v1/reporting/operations/",
    "/api/v1/reporting/uptime/",
    "/api/v1/reporting/trends/?metric=disk_percent",
    "/api/v1/reporting/regressions/?service=checkout",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    ("actor", "code"),
    [("anonymous", 401), ("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200), ("other_key", 403)],
)
def test_who_may_read_the_reports(api_client, service, url, actor, code):
    assert api_client(actor).get(url).status_code == code


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/reporting/operations/?range=1y", "range"),
        ("/api/v1/reporting/operations/?by=colour", "by"),
        ("/api/v1/reporting/operations/?quick_minutes=100000", "quick_minutes"),
        ("/api/v1/reporting/operations/?flap_cycles=1", "flap_cycles"),
        ("/api/v1/reporting/operations/?since=2020-01-01T00:00:00Z&until=2022-01-01T00:00:00Z", "since"),
        ("/api/v1/reporting/operations/?range=7d&since=2026-01-01T00:00:00Z", "range"),
        ("/api/v1/reporting/uptime/?until=", "until"),
        ("/api/v1/reporting/trends/", "metric"),
        ("/api/v1/reporting/trends/?metric=a;drop", "metric"),
        ("/api/v1/reporting/trends/?metric=m&threshold=1e300", "threshold"),
        ("/api/v1/reporting/trends/?metric=m&service=nobody", "service"),
        ("/api/v1/reporting/regressions/", "service"),
        ("/api/v1/reporting/regressions/?service=checkout&min_requests=0", "min_requests"),
        ("/api/v1/reporting/regressions/?service=checkout&range=30d", "range"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(api_client, service, url, field):
    response = api_client("viewer").get(url)
    assert response.status_code == 400
    assert field in response.json()


def test_operations_answer_and_csv_export(api_client, service, users):
    rule = AlertRule.objects.create(name="disk", metric="disk_percent", threshold=90)
    now = timezone.now()
    for minutes in (2, 4):
        alert = Alert.objects.create(
            rule=rule,
            service=service,
            fingerprint=f"f{minutes}",
            summary="x",
            created_at=now - timedelta(hours=1),
            status="acknowledged",
            first_acknowledged_at=now - timedelta(hours=1) + timedelta(minutes=minutes),
        )
        AlertEvent.objects.create(alert=alert, kind="triggered", created_at=alert.created_at)
        AlertEvent.objects.create(
            alert=alert,
            kind="acknowledged",
            actor=users["operator"],
            created_at=alert.created_at + timedelta(minutes=minutes),
        )
    body = api_client("viewer").get("/api/v1/reporting/operations/?range=24h&by=rule").json()
    (alerts,) = body["alerts"]
    assert (alerts["key"], alerts["count"], alerts["mtta_median"]) == ("disk", 2, 180.0)
    assert body["oncall"] == [{"person": "operator", "acknowledgements": 2, "pages": 0, "night_pages": 0}]
    assert body["noisy_rules"][0]["fired"] == 2

    response = api_client("viewer").get("/api/v1/reporting/operations/?range=24h&by=rule&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    (line,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (line["key"], line["count"], line["mtta_mean"]) == ("disk", "2", "180.0")
    oncall = api_client("viewer").get("/api/v1/reporting/operations/?table=oncall&format=csv").content.decode()
    assert oncall.splitlines() == ["person,acknowledgements,pages,night_pages", "operator,2,0,0"]
    refused = api_client("viewer").get("/api/v1/reporting/operations/?by=x&format=csv")
    assert refused.status_code == 400 and b'"by"' in refused.content
    assert refused["Content-Type"] == "application/json"  # an error asked for as CSV is JSON, and says so


def test_uptime_answer_and_csv(api_client, service):
    check = HealthCheck.objects.create(name="api", kind="tcp", service=service, config={"host": "h", "port": 1})
    now = timezone.now()
    HealthCheckResult.objects.create(health_check=check, status="healthy", created_at=now - timedelta(days=30))
    HealthCheckResult.objects.create(health_check=check, status="unhealthy", created_at=now - timedelta(hours=12))
    HealthCheckResult.objects.create(health_check=check, status="healthy", created_at=now - timedelta(hours=6))
    body = api_client("viewer").get("/api/v1/reporting/uptime/?range=24h").json()
    assert body["checks"][0]["uptime_percent"] == pytest.approx(75, abs=0.01)
    assert body["services"][0]["name"] == "checkout"
    text = api_client("viewer").get("/api/v1/reporting/uptime/?range=24h&table=services&format=csv").content
    assert text.decode().startswith("name,service,uptime_percent,known_seconds,down_seconds\ncheckout,checkout,75.")


def test_trends_forecast_a_growing_metric(api_client, service):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    # Hourly points over 14 days, +0.1 per hour (2.4 per day) from 40, with one spike in the
    # middle of this week (it lifts the fitted line by 30 / 168 without tilting it).
    rows = [
        row(
            service,
            "disk_percent",
            40 + 0.1 * h + (30 if h == 252 else 0),
            now - timedelta(hours=336 - h) + timedelta(minutes=5),
            mount="/",
        )
        for h in range(336)
    ]
    samples_write(rows)
    with time_machine.travel(now, tick=False):
        body = (
            api_client("viewer")
            .get(f"/api/v1/reporting/trends/?metric=disk_percent&range=7d&threshold=90&service={service.slug}")
            .json()
        )
    (series,) = body["series"]
    assert series["labels"] == {"mount": "/", "service": "checkout"}
    assert series["slope"] == pytest.approx(2.4, rel=0.05)
    assert series["change"] == pytest.approx(7 * 2.4, rel=0.05)
    assert len(series["anomalies"]) == 1
    # The line is at 40 + 33.6 + 0.18 now: 90 is (90 - 73.78) / 2.4 = 6.76 days away.
    assert series["crosses_in_days"] == pytest.approx(6.76, rel=0.01)


def test_regressions_answer(api_client, service):
    assert api_client("viewer").get("/api/v1/reporting/regressions/?service=checkout&range=1h").json() == {
        "service": "checkout",
        "range": "1h",
        "compared": 0,
        "min_requests": 50,
        "regressions": [],
    }
