"""Numbers that crashed sweeps (issue #9): refused at the edge, survived when already stored.

An interval of 10**12 s stopped every health check from being claimed again; an interval of 2**62
made /health/ready answer 500; a grace of 2**62 made /ping answer 500 after storing the ping.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.healthchecks import runner
from monitoring.healthchecks.runner import health_check_run, health_sweep
from monitoring.models import CheckKind, HealthCheck, HeartbeatPing
from tests.monitoring.factories import HealthCheckFactory
from tests.support import on_postgres

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-checks/"
HUGE = 2**62


def storable(value: int) -> int:
    """The reported number where the column holds it (SQLite keeps 64-bit integers); PostgreSQL's
    integer column stops at 2**31 - 1, which is still far past every bound."""
    return min(value, 2**31 - 1) if on_postgres() else value


@pytest.mark.parametrize(
    ("fields", "field", "bound"),
    [
        ({"interval_seconds": 10**12}, "interval_seconds", "86400"),
        ({"interval_seconds": HUGE}, "interval_seconds", "86400"),
        ({"interval_seconds": 5}, "interval_seconds", "60"),
        ({"timeout_seconds": 1e12}, "timeout_seconds", "60"),
        ({"timeout_seconds": 0}, "timeout_seconds", "0.1"),
        ({"grace_seconds": HUGE}, "grace_seconds", "2678400"),
        ({"period_seconds": HUGE}, "period_seconds", "31622400"),
    ],
)
def test_api_refuses_out_of_range_numbers_naming_the_field(api_client, fields, field, bound):
    body = {"name": "nightly", "kind": "heartbeat", "period_seconds": 3600, **fields}
    response = api_client("admin").post(URL, body, format="json")
    assert response.status_code == 400
    [message] = response.json()[field]
    assert message.endswith(f" {bound}."), message
    assert not HealthCheck.objects.exists()


def test_api_refuses_a_huge_degraded_ms_in_the_config(api_client):
    body = {"name": "db", "kind": "database", "config": {"degraded_ms": 10**30}}
    response = api_client("admin").post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["config"] == {"degraded_ms": ["must be a positive number, at most 60000"]}


def test_the_largest_values_are_accepted(api_client):
    body = {
        "name": "yearly",
        "kind": "heartbeat",
        "interval_seconds": 86_400,
        "timeout_seconds": 60,
        "period_seconds": 366 * 86_400,
        "grace_seconds": 31 * 86_400,
    }
    response = api_client("admin").post(URL, body, format="json")
    assert response.status_code == 201, response.json()


def test_admin_form_refuses_a_huge_interval(page_client):
    form = {
        "name": "db",
        "kind": "database",
        "config": "{}",
        "interval_seconds": 10**12,
        "timeout_seconds": 5,
        "grace_seconds": HUGE,
        "cron": "",
        "results-TOTAL_FORMS": 0,
        "results-INITIAL_FORMS": 0,
    }
    response = page_client("admin").post(reverse("admin:monitoring_healthcheck_add"), form)
    assert response.status_code == 200
    assert b"Must be between 60 and 86,400 seconds." in response.content
    assert b"Must be between 0 and 2,678,400 seconds (31 days)." in response.content
    assert not HealthCheck.objects.exists()


def _stored(check, **fields):
    """Out-of-range values as an old row or a shell would leave them: around every validator."""
    HealthCheck.objects.filter(pk=check.pk).update(**fields)
    check.refresh_from_db()
    return check


def test_a_huge_interval_does_not_stop_the_sweep_for_the_others(monkeypatch):
    queued = []
    monkeypatch.setattr(runner, "async_task", lambda *args, **kw: queued.append(args[1]))
    bad = _stored(HealthCheckFactory(), interval_seconds=storable(10**12))
    beat = HealthCheckFactory(kind=CheckKind.HEARTBEAT, period_seconds=3600)
    other = HealthCheckFactory()
    now = timezone.now()
    assert health_sweep(now=now) == {"queued": 2, "evaluated": 1}
    assert sorted(queued) == sorted([bad.pk, other.pk])
    bad.refresh_from_db()
    assert bad.next_run_at == now + timedelta(days=1)  # claimed, at most one interval ahead
    beat.refresh_from_db()
    assert beat.last_status == "healthy"
    # Running the bad one reports why instead of trying to use the number.
    result = health_check_run(check=bad)
    assert result.status == "unhealthy"
    assert result.message.startswith(f"not run: interval_seconds = {storable(10**12)} is out of range.")
    queued.clear()
    assert health_sweep(now=now + timedelta(minutes=1)) == {"queued": 1, "evaluated": 1}
    assert queued == [other.pk]  # the bad one waits its clamped day, the others keep running


def test_a_check_that_fails_in_the_sweep_is_marked_and_the_rest_still_run(monkeypatch):
    first, second = HealthCheckFactory(name="first"), HealthCheckFactory(name="second")
    queued = []

    def enqueue(func, pk, **kwargs):
        if pk == first.pk:
            raise ConnectionError("broker unreachable")
        queued.append(pk)

    monkeypatch.setattr(runner, "async_task", enqueue)
    assert health_sweep() == {"queued": 1, "evaluated": 0, "failed": 1}
    assert queued == [second.pk]
    first.refresh_from_db()
    assert first.last_status == "unhealthy"
    assert first.last_message == "sweep failed: ConnectionError: broker unreachable"


def test_ready_does_not_500_on_a_huge_interval(client):
    good = HealthCheckFactory(name="db", critical=True)
    health_check_run(check=good)
    bad = _stored(HealthCheckFactory(name="huge", critical=True), interval_seconds=storable(HUGE))
    health_check_run(check=bad)
    response = client.get("/health/ready")
    assert response.status_code == 503  # the bad check reports itself unhealthy; no 500
    states = {c["name"]: c["status"] for c in response.json()["checks"]}
    assert states == {"db": "healthy", "huge": "unhealthy"}
    # Even before it ran again (still healthy from before the bad value was written):
    HealthCheck.objects.filter(pk=bad.pk).update(last_status="healthy")
    assert client.get("/health/ready").status_code == 200


def test_ping_with_a_huge_grace_answers_200_and_stores_one_ping(client):
    beat = _stored(HealthCheckFactory(kind=CheckKind.HEARTBEAT, period_seconds=60), grace_seconds=storable(HUGE))
    response = client.post(f"/ping/{beat.uuid}")
    assert response.status_code == 200
    assert HeartbeatPing.objects.filter(health_check=beat).count() == 1
    beat.refresh_from_db()
    assert beat.last_ping_at is not None
    assert beat.last_status == "unhealthy" and "grace_seconds" in beat.last_message


def test_ping_answers_200_even_when_evaluation_breaks(client, monkeypatch):
    beat = HealthCheckFactory(kind=CheckKind.HEARTBEAT, period_seconds=60)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("monitoring.heartbeats.health_check_run", broken)
    assert client.get(f"/ping/{beat.uuid}").status_code == 200
    assert HeartbeatPing.objects.filter(health_check=beat).count() == 1


def test_a_heartbeat_that_cannot_be_evaluated_is_unhealthy_not_an_exception(monkeypatch):
    beat = HealthCheckFactory(kind=CheckKind.HEARTBEAT, period_seconds=60)

    def overflow(*args, **kwargs):
        raise OverflowError("date value out of range")

    monkeypatch.setattr("monitoring.healthchecks.kinds.heartbeat_status", overflow)
    result = health_check_run(check=beat)
    assert result.status == "unhealthy"
    assert result.message == "could not be evaluated: OverflowError: date value out of range"
