from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from monitoring.flusher import Flusher
from monitoring.healthchecks.runner import health_check_run
from monitoring.metrics import Counter, Gauge, Histogram, Registry
from monitoring.models import CheckKind, HealthCheckResult
from monitoring.rollups import prune_run, rollup_run
from tests.monitoring.factories import HealthCheckFactory
from tests.support import free_port, on_postgres

pytestmark = pytest.mark.django_db


def families(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def value(family, **labels):
    matches = [s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (labels, family.samples)
    return matches[0]


def two_processes(service):
    """Two registries + flushers, standing in for two web processes."""
    return [
        (registry, Flusher(registry, interval=3600, service_id=service.pk)) for registry in (Registry(), Registry())
    ]


def test_metrics_counters_are_summed_across_processes_and_parse(client, service):
    for registry, flusher in two_processes(service):
        requests = Counter("app_requests_total", "Requests served", labelnames=("code",), registry=registry)
        requests.inc(3, code="200")
        requests.inc(code="500")
        Gauge("app_queue_depth", "Jobs waiting", registry=registry).set(7)
        latency = Histogram("app_latency_seconds", "Latency", registry=registry)
        for v in (0.1, 0.2, 0.3, 0.4):
            latency.observe(v)
        flusher.flush()
    found = families(client)
    assert value(found["app_requests"], code="200", service="checkout") == 6
    assert value(found["app_requests"], code="500") == 2
    assert found["app_requests"].type == "counter"
    assert found["app_queue_depth"].type == "gauge" and value(found["app_queue_depth"]) == 7
    summary = found["app_latency_seconds"]
    assert summary.type == "summary"
    samples = {(s.name, s.labels.get("quantile")): s.value for s in summary.samples}
    assert samples[("app_latency_seconds_count", None)] == 8
    assert samples[("app_latency_seconds_sum", None)] == pytest.approx(2.0)
    assert samples[("app_latency_seconds", "0.5")] == pytest.approx(0.2, rel=0.02)


def test_counters_stay_monotonic_through_rollups_and_pruning(client, service, settings):
    registry = Registry()
    flusher = Flusher(registry, interval=3600, service_id=service.pk)
    jobs = Counter("jobs_done_total", registry=registry)
    jobs.inc(5)
    flusher.flush()
    before = value(families(client)["jobs_done"])
    rollup_run(now=timezone.now() + timedelta(hours=2))
    assert value(families(client)["jobs_done"]) == before == 5
    settings.METRICS_HOUR_RETENTION_DAYS = 0
    settings.METRICS_MINUTE_RETENTION_DAYS = 0
    settings.METRICS_RAW_RETENTION_DAYS = 0
    prune_run(now=timezone.now() + timedelta(hours=3))
    jobs.inc(2)
    flusher.flush()
    assert value(families(client)["jobs_done"]) == 7


def test_metrics_includes_health_check_state_and_escapes_labels(client):
    check = HealthCheckFactory(
        name='db "main"\nreplica', kind=CheckKind.TCP, config={"host": "127.0.0.1", "port": free_port()}
    )
    health_check_run(check=check)
    found = families(client)
    assert value(found["portal_health_check_status"], check='db "main"\nreplica') == 2
    assert "portal_health_check_runs" not in found  # recorded in memory, written by the flusher only


def test_metrics_query_count_is_fixed(client, service, django_assert_max_num_queries):
    registry = Registry()
    flusher = Flusher(registry, interval=3600, service_id=service.pk)
    for i in range(30):
        Counter(f"c{i}_total", registry=registry).inc()
        Gauge(f"g{i}", labelnames=("shard",), registry=registry).set(i, shard=str(i))
    flusher.flush()
    # the metric names, the watermark, gauges' last values, summaries' window, totals, health checks
    # (on PostgreSQL inside the test's transaction, the totals' savepoint adds two statements)
    with django_assert_max_num_queries(6 + 2 * on_postgres()):
        families(client)


def test_metrics_can_require_a_service_key(client, settings, service_key):
    settings.METRICS_PROMETHEUS_REQUIRE_KEY = True
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer pk_nope").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {service_key.raw}").status_code == 200


def test_health_is_liveness_with_the_database(client, db):
    body = client.get("/health/").json()
    assert body["status"] == "ok" and body["database"]["ok"] is True


def test_ready_is_503_when_a_critical_check_fails(client):
    ok = HealthCheckFactory(name="db", kind=CheckKind.DATABASE, critical=True)
    health_check_run(check=ok)
    optional = HealthCheckFactory(kind=CheckKind.TCP, config={"host": "127.0.0.1", "port": free_port()})
    health_check_run(check=optional)
    response = client.get("/health/ready")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    critical = HealthCheckFactory(
        name="cache", kind=CheckKind.TCP, critical=True, config={"host": "127.0.0.1", "port": free_port()}
    )
    health_check_run(check=critical)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert client.head("/health/ready").status_code == 503  # probes may use HEAD
    assert client.head("/health/").status_code == 200
    body = response.json()
    assert body["status"] == "unhealthy"
    assert {c["name"]: c["status"] for c in body["checks"]} == {"db": "healthy", "cache": "unhealthy"}


def test_ready_treats_a_stale_critical_result_as_failing(client):
    check = HealthCheckFactory(kind=CheckKind.DATABASE, critical=True, interval_seconds=60)
    health_check_run(check=check, now=timezone.now() - timedelta(hours=1))
    assert client.get("/health/ready").status_code == 503
    assert client.get("/health/ready").json()["checks"][0]["status"] == "stale"


def test_ready_ignores_pending_and_disabled_checks(client):
    HealthCheckFactory(critical=True)  # never ran
    disabled = HealthCheckFactory(critical=True, enabled=False, kind=CheckKind.TCP, config={"host": "x", "port": 1})
    HealthCheckResult.objects.create(health_check=disabled, status="unhealthy")
    assert client.get("/health/ready").status_code == 200


@pytest.mark.parametrize("actor", ["anonymous", "viewer", "operator", "admin", "other_key"])
@pytest.mark.parametrize("require_key", [False, True])
def test_root_endpoint_role_matrix(page_client, other_key, settings, actor, require_key):
    settings.METRICS_PROMETHEUS_REQUIRE_KEY = require_key
    beat = HealthCheckFactory(kind=CheckKind.HEARTBEAT, period_seconds=60)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {other_key.raw}") if actor == "other_key" else page_client(actor)
    # Load balancers and cron jobs have no session: these answer everyone.
    assert client.get("/health/").status_code == 200
    assert client.get("/health/ready").status_code == 200
    assert client.get(f"/ping/{beat.uuid}").status_code == 200
    expected = 401 if require_key and actor == "anonymous" else 200
    assert client.get("/metrics").status_code == expected


def test_ingest_refuses_a_non_list_batch(key_client):
    response = key_client.post("/api/v1/metrics/", {"samples": "lots"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "samples"
