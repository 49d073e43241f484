"""Health-check results are stored on change, like Healthchecks' flips: a row when the status
changes, while every run updates the check's last status, message, latency and check time.
Latency history goes to the metrics store (`portal_health_check_run_ms`), which rolls it up."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from monitoring.flusher import Flusher
from monitoring.healthchecks.kinds import Outcome
from monitoring.healthchecks.runner import health_check_record, health_check_run
from monitoring.metrics import REGISTRY
from monitoring.models import CheckKind, HealthCheckResult
from tests.monitoring.factories import HealthCheckFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def statuses(check) -> list[tuple[datetime, str]]:
    return list(check.results.order_by("created_at", "id").values_list("created_at", "status"))


def test_a_heartbeat_swept_every_minute_stores_only_its_changes(service):
    beat = HealthCheckFactory(service=service, kind=CheckKind.HEARTBEAT, period_seconds=3600, grace_seconds=300)
    beat.created_at = T0
    beat.last_ping_at = T0
    beat.save()
    for minute in range(91):
        health_check_run(check=beat, now=T0 + minute * MIN)
    # was 91 rows, one a minute saying the same thing
    assert statuses(beat) == [(T0, "healthy"), (T0 + 61 * MIN, "degraded"), (T0 + 66 * MIN, "unhealthy")]
    beat.refresh_from_db()
    assert beat.last_checked_at == T0 + 90 * MIN and beat.last_status == "unhealthy"
    assert beat.last_message.startswith("no ping since")


def test_every_kind_stores_changes_and_keeps_the_last_run_on_the_check(service, custom_checks):
    check = HealthCheckFactory(service=service, kind=CheckKind.CUSTOM, config={"name": "answers"})
    for minute in range(5):
        result = health_check_run(check=check, now=T0 + minute * MIN)
    assert result.pk is None and result.status == "healthy"  # this run's outcome, not stored
    check.config = {"name": "answers", "params": {"status": "degraded", "message": "slow"}}
    check.save()
    changed = health_check_run(check=check, now=T0 + 5 * MIN)
    assert changed.pk is not None and changed.message == "slow"
    assert [s for _, s in statuses(check)] == ["healthy", "degraded"]
    check.refresh_from_db()
    assert check.last_checked_at == T0 + 5 * MIN and check.last_latency_ms is not None


def test_a_change_another_process_recorded_first_is_stored_once(service):
    check = HealthCheckFactory(service=service, kind=CheckKind.DATABASE)
    stale = type(check).objects.get(pk=check.pk)
    health_check_record(check=check, outcome=Outcome("unhealthy", "down"), now=T0)
    health_check_record(check=stale, outcome=Outcome("unhealthy", "down"), now=T0 + MIN)  # still thinks ""
    assert statuses(check) == [(T0, "unhealthy")]


def test_latency_history_is_a_metric_and_feeds_the_chart(service, page_client):
    check = HealthCheckFactory(service=service, kind=CheckKind.DATABASE)
    for _ in range(3):
        health_check_run(check=check)
    Flusher(REGISTRY, interval=3600, service_id=service.pk).flush()
    data = page_client("viewer").get(reverse("monitoring:health-latency-chart", args=[check.pk])).json()
    assert HealthCheckResult.objects.filter(health_check=check).count() == 1
    values = [v for dataset in data["datasets"] for v in dataset["data"] if v is not None]
    assert values and all(v >= 0 for v in values)
    assert data["datasets"][0]["label"] == "average (ms)"


def test_uptime_is_the_share_of_the_day_not_unhealthy(service, page_client, time_machine):
    check = HealthCheckFactory(service=service, kind=CheckKind.DATABASE)
    now = T0 + timedelta(days=2)
    health_check_record(check=check, outcome=Outcome("healthy", "ok"), now=T0)  # before the window
    health_check_record(check=check, outcome=Outcome("unhealthy", "down"), now=now - timedelta(hours=6))
    health_check_record(check=check, outcome=Outcome("healthy", "ok"), now=now - timedelta(hours=3))
    time_machine.move_to(now, tick=False)
    page = page_client("viewer").get(reverse("monitoring:health-detail", args=[check.pk])).content.decode()
    assert "87.5" in page  # 3 of 24 hours unhealthy; counting rows said 66.7 %


def test_api_run_answers_the_outcome_and_lists_only_changes(api_client, service):
    check = HealthCheckFactory(service=service, kind=CheckKind.DATABASE)
    client = api_client("operator")
    first = client.post(f"/api/v1/health-checks/{check.pk}/run/").json()
    again = client.post(f"/api/v1/health-checks/{check.pk}/run/").json()
    assert first["status"] == again["status"] == "healthy"
    assert first["id"] is not None and again["id"] is None  # unchanged: nothing stored
    listed = client.get("/api/v1/health-check-results/", {"health_check": check.pk}).json()["results"]
    assert [r["id"] for r in listed] == [first["id"]]
