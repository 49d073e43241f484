"""A scrape target's health: the `scrape` health-check kind, an alert rule on `scrape_up`, the
service page."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from werkzeug import Response

from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertRule
from monitoring.healthchecks.runner import health_check_run, health_sweep
from monitoring.healthchecks.scrape import ScrapeRecord, scrape_status
from monitoring.healthchecks.status import DEGRADED, HEALTHY, UNHEALTHY
from monitoring.integrations.models import ScrapeTarget
from monitoring.integrations.scrape import scrape_sweep
from monitoring.models import HealthCheck

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def record(**changes) -> ScrapeRecord:
    fields = {
        "url": "http://app:8000/metrics",
        "enabled": True,
        "interval_seconds": 60,
        "created_at": T0 - 10 * MIN,
        "last_scrape_at": T0,
        "last_ok": True,
        "last_error": "",
        "last_duration_ms": 40,
        "last_samples": 120,
    }
    return ScrapeRecord(**(fields | changes))


@pytest.mark.parametrize(
    "changes, now, options, status, says",
    [
        ({}, T0 + MIN, {}, HEALTHY, "up: 120 series in 40 ms"),
        ({"last_error": "3 series over the limit of 10 refused"}, T0, {}, HEALTHY, "3 series over the limit"),
        ({"last_ok": False, "last_error": "HTTP 503"}, T0 + MIN, {}, UNHEALTHY, "failed: HTTP 503"),
        ({}, T0 + 3 * MIN, {}, HEALTHY, "up"),  # three periods is the default allowance
        ({}, T0 + 3 * MIN + timedelta(seconds=1), {}, UNHEALTHY, "stale: last scrape at 2026-03-02 09:00:00 UTC"),
        ({}, T0 + 5 * MIN, {"max_intervals": 6}, HEALTHY, "up"),
        ({"interval_seconds": 600}, T0 + 29 * MIN, {}, HEALTHY, "up"),
        # 15 s targets are scraped by the per-minute sweep: a minute is their real period.
        ({"interval_seconds": 15}, T0 + 2 * MIN, {}, HEALTHY, "up"),
        ({"last_duration_ms": 900}, T0, {"degraded_ms": 500}, DEGRADED, "slow: the last scrape took 900 ms"),
        ({"last_duration_ms": 400}, T0, {"degraded_ms": 500}, HEALTHY, "up"),
        ({"enabled": False}, T0, {}, UNHEALTHY, "disabled"),
        ({"last_scrape_at": None, "last_ok": None, "created_at": T0}, T0 + MIN, {}, HEALTHY, "waiting"),
        ({"last_scrape_at": None, "last_ok": None, "created_at": T0}, T0 + 4 * MIN, {}, UNHEALTHY, "never scraped"),
    ],
)
def test_status_of_a_scrape_record(changes, now, options, status, says):
    found, message = scrape_status(record(**changes), now=now, **options)
    assert found == status
    assert says in message


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def exporter(httpserver):
    """An exporter whose answer the test switches: 200 with a gauge, or 503."""
    state = {"up": True}

    def respond(request):
        if state["up"]:
            return Response("ready 1\n", content_type="text/plain")
        return Response("down for maintenance", status=503)

    httpserver.expect_request("/metrics").respond_with_handler(respond)
    state["url"] = httpserver.url_for("/metrics")
    return state


@pytest.mark.django_db
def test_a_scrape_check_follows_its_targets_scrapes(exporter, service, clock):
    target = ScrapeTarget.objects.create(service=service, url=exporter["url"])
    check = HealthCheck.objects.create(service=service, name="exporter", kind="scrape", config={"target": target.pk})
    assert health_check_run(check=check).status == HEALTHY  # waiting for the first scrape

    scrape_sweep()
    result = health_check_run(check=check)
    assert check.last_status == HEALTHY and "up: " in check.last_message
    assert result.pk is None  # no change of status, no new history row

    exporter["up"] = False
    clock.move_to(T0 + MIN)
    scrape_sweep()
    health_check_run(check=check)
    assert check.last_status == UNHEALTHY
    assert "failed: HTTP 503" in check.last_message

    exporter["up"] = True
    clock.move_to(T0 + 2 * MIN)
    scrape_sweep()
    health_check_run(check=check)
    assert check.last_status == HEALTHY

    clock.move_to(T0 + 6 * MIN)  # nothing scraped it for four minutes
    health_check_run(check=check)
    assert check.last_status == UNHEALTHY and check.last_message.startswith("stale")
    assert [r.status for r in check.results.order_by("created_at")] == [HEALTHY, UNHEALTHY, HEALTHY, UNHEALTHY]


@pytest.mark.django_db
def test_a_slow_scrape_is_degraded(httpserver, service, clock):
    def slow(request):
        time.sleep(0.3)
        return Response("ready 1\n", content_type="text/plain")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    target = ScrapeTarget.objects.create(service=service, url=httpserver.url_for("/slow"))
    check = HealthCheck.objects.create(
        service=service, name="slow exporter", kind="scrape", config={"target": target.pk, "degraded_ms": 100}
    )
    scrape_sweep()
    health_check_run(check=check)
    assert check.last_status == DEGRADED
    assert check.last_latency_ms >= 300  # the scrape's own duration


@pytest.mark.django_db
def test_the_sweep_evaluates_scrape_checks_at_once(exporter, service, clock, task_queue):
    target = ScrapeTarget.objects.create(service=service, url=exporter["url"], enabled=False)
    check = HealthCheck.objects.create(service=service, name="off", kind="scrape", config={"target": target.pk})
    assert health_sweep() == {"queued": 0, "evaluated": 1}
    check.refresh_from_db()
    assert check.last_status == UNHEALTHY and "disabled" in check.last_message
    assert task_queue.queue_size() == 0


@pytest.mark.django_db
def test_a_deleted_target_makes_the_check_unhealthy(service, clock):
    target = ScrapeTarget.objects.create(service=service, url="http://127.0.0.1:9/metrics")
    check = HealthCheck.objects.create(service=service, name="gone", kind="scrape", config={"target": target.pk})
    target.delete()
    health_check_run(check=check)
    assert check.last_status == UNHEALTHY and "no longer exists" in check.last_message


@pytest.mark.django_db
@pytest.mark.parametrize(
    "config, says",
    [
        ({}, {"target": ["must be the id of a scrape target"]}),
        ({"target": "1"}, {"target": ["must be the id of a scrape target"]}),
        ({"target": 999_999}, {"target": ["no scrape target has the id 999999"]}),
        ({"target": "own", "max_intervals": 0}, {"max_intervals": ["must be a whole number from 1 to 100"]}),
        ({"target": "own", "max_intervals": 101}, {"max_intervals": ["must be a whole number from 1 to 100"]}),
        ({"target": "own", "degraded_ms": -1}, {"degraded_ms": ["must be a positive number, at most 60000"]}),
        ({"target": "other"}, {"target": ["belongs to the service 'billing', not to this check's service"]}),
    ],
)
def test_the_api_refuses_bad_scrape_configs_naming_the_key(api_client, service, other_service, config, says):
    own = ScrapeTarget.objects.create(service=service, url="http://127.0.0.1:9/metrics")
    other = ScrapeTarget.objects.create(service=other_service, url="http://127.0.0.1:9/metrics")
    config = {k: {"own": own.pk, "other": other.pk}.get(v, v) if k == "target" else v for k, v in config.items()}
    body = {"service": "checkout", "name": "exporter", "kind": "scrape", "config": config}
    answer = api_client("admin").post("/api/v1/health-checks/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"config": says}


@pytest.mark.django_db
def test_admins_add_a_scrape_check_through_the_api_and_the_page(api_client, page_client, service):
    target = ScrapeTarget.objects.create(service=service, url="http://127.0.0.1:9/metrics")
    body = {"service": "checkout", "name": "exporter", "kind": "scrape", "config": {"target": target.pk}}
    answer = api_client("admin").post("/api/v1/health-checks/", body, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["config"] == {"target": target.pk}
    form = {
        "service": service.pk,
        "name": "exporter on the page",
        "kind": "scrape",
        "interval_seconds": 60,
        "timeout_seconds": 5,
        "grace_seconds": 300,
        "enabled": "on",
        "scrape_target": str(target.pk),
        "scrape_max_intervals": "5",
        "scrape_degraded_ms": "",
    }
    page = page_client("admin").post("/monitoring/health/new/", form)
    assert page.status_code == 302, page.content.decode()[:3000]
    made = HealthCheck.objects.get(name="exporter on the page")
    assert made.config == {"target": target.pk, "max_intervals": 5}


@pytest.mark.django_db
def test_an_alert_rule_on_scrape_up_fires_when_the_target_is_down(exporter, service, clock):
    target = ScrapeTarget.objects.create(service=service, url=exporter["url"])
    # Prometheus' `up == 0`: the lowest scrape_up of the target in the last minute is 0.
    AlertRule.objects.create(
        name="exporter down",
        metric="scrape_up",
        service=service,
        matchers=[{"label": "target", "op": "=", "value": target.url}],
        aggregation="min",
        window=MIN,
        comparison="eq",
        threshold=0,
        severity="critical",
    )

    def minute(index: int, *, up: bool):
        exporter["up"] = up
        clock.move_to(T0 + index * MIN + timedelta(seconds=5))
        scrape_sweep()
        clock.move_to(T0 + index * MIN + timedelta(seconds=30))
        return rules_evaluate()

    assert minute(0, up=True).fired == 0
    assert minute(1, up=False).fired == 1
    alert = Alert.objects.get()
    assert alert.status == "firing" and alert.value == 0
    assert alert.labels == {"service": "checkout", "target": target.url}
    assert alert.service == service
    assert minute(2, up=True).resolved == 0  # the window still holds the failed scrape
    assert minute(3, up=True).resolved == 1


@pytest.mark.django_db
def test_a_scrape_checks_pages_show_it(exporter, service, page_client, clock):
    target = ScrapeTarget.objects.create(service=service, url=exporter["url"])
    check = HealthCheck.objects.create(
        service=service, name="exporter", kind="scrape", config={"target": target.pk, "max_intervals": 4}
    )
    scrape_sweep()
    health_check_run(check=check)
    detail = page_client("viewer").get(f"/monitoring/health/{check.pk}/").content.decode()
    assert "exporter" in detail and "up: 1 series" in detail
    service_page = page_client("viewer").get(f"/monitoring/services/{service.slug}/").content.decode()
    assert '<span class="badge healthy">up</span>' in service_page  # the target
    assert f'href="/monitoring/health/{check.pk}/"' in service_page  # and its check
    form = page_client("admin").get(f"/monitoring/health/{check.pk}/edit/").content.decode()
    assert f'name="scrape_target" value="{target.pk}"' in form
    assert 'name="scrape_max_intervals" value="4"' in form
