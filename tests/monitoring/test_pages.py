import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.collectors import collect_run
from monitoring.healthchecks.runner import health_check_run
from monitoring.hosts import local_host_service
from monitoring.models import CheckKind, HealthCheck, Metric
from monitoring.rollups import rollup_run
from tests.monitoring.conftest import row
from tests.monitoring.factories import HealthCheckFactory

pytestmark = pytest.mark.django_db

PAGE_ACTORS = ["anonymous", "norole", "viewer", "operator", "admin", "other_key"]


def client_for(page_client, other_key, actor) -> Client:
    if actor == "other_key":  # a service key means nothing to pages: it is an anonymous visitor
        return Client(HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    return page_client(actor)


@pytest.fixture
def data(service):
    from monitoring.ingest import samples_write

    now = timezone.now()
    samples_write([row(service, "orders_total", i, now - timedelta(minutes=i)) for i in range(30)])
    check = HealthCheckFactory(service=service, name="db", kind=CheckKind.DATABASE)
    health_check_run(check=check)
    beat = HealthCheckFactory(service=service, name="nightly", kind=CheckKind.HEARTBEAT, period_seconds=60)
    health_check_run(check=beat)
    return {"check": check, "beat": beat}


def urls(service, data):
    return [
        reverse("monitoring:index"),
        reverse("monitoring:service", args=[service.slug]) + "?range=24h",
        reverse("monitoring:health"),
        reverse("monitoring:health-detail", args=[data["check"].pk]),
        reverse("monitoring:health-detail", args=[data["beat"].pk]),
    ]


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_page_role_matrix(page_client, other_key, service, data, actor):
    client = client_for(page_client, other_key, actor)
    for url in urls(service, data):
        response = client.get(url)
        if actor in ("anonymous", "other_key"):
            assert response.status_code == 302 and "/login/" in response["Location"], url
        elif actor == "norole":
            assert response.status_code == 403, url
        else:
            assert response.status_code == 200, url


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_chart_role_matrix(page_client, other_key, service, data, actor):
    client = client_for(page_client, other_key, actor)
    for url in [
        reverse("monitoring:metric-chart", args=[service.slug, "orders_total"]) + "?range=1h",
        reverse("monitoring:health-latency-chart", args=[data["check"].pk]),
    ]:
        expected = 200 if actor in ("viewer", "operator", "admin") else 403
        assert client.get(url).status_code == expected, url


def test_service_page_shows_charts_for_its_metrics(page_client, service, data):
    Metric.objects.create(name="orders_total", kind="counter")
    page = page_client("viewer").get(reverse("monitoring:service", args=[service.slug]))
    chart = reverse("monitoring:metric-chart", args=[service.slug, "orders_total"])
    assert f"{chart}?range=1h&agg=rate".encode() in page.content  # counters chart their rate
    assert b"db" in page.content


def test_service_page_finds_metrics_that_only_rollups_hold(page_client, service, data):
    from monitoring.models import MetricSample

    rollup_run(now=timezone.now() + timedelta(minutes=5))
    MetricSample.objects.all().delete()  # as after pruning: only the rollups know the name
    page = page_client("viewer").get(reverse("monitoring:service", args=[service.slug]), {"range": "24h"})
    assert reverse("monitoring:metric-chart", args=[service.slug, "orders_total"]).encode() in page.content


def test_service_page_reads_only_the_samples_not_rolled_up_yet(page_client, service, data):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.query_plans import whole_table_scans
    from tests.support import on_postgres

    if on_postgres():
        pytest.skip("reads SQLite's query plans; PostgreSQL's depend on table statistics")
    rollup_run(now=timezone.now() + timedelta(minutes=5))
    with CaptureQueriesContext(connection) as captured:
        page = page_client("viewer").get(reverse("monitoring:service", args=[service.slug]), {"range": "7d"})
    assert reverse("monitoring:metric-chart", args=[service.slug, "orders_total"]).encode() in page.content
    # DISTINCT name made SQLite walk the whole (name, time) index: 165 ms for no row at 1M samples
    assert whole_table_scans(captured.captured_queries, "monitoring_metricsample") == []


def test_host_page_has_the_system_charts_over_each_range(page_client):
    collect_run(window=0.05)
    host = local_host_service()
    viewer = page_client("viewer")
    for range_name in ("1h", "24h", "7d"):
        page = viewer.get(reverse("monitoring:service", args=[host.slug]), {"range": range_name})
        assert b"CPU % (all cores)" in page.content and b"Network bytes/s" in page.content
        chart_url = reverse("monitoring:metric-chart", args=[host.slug, "system_cpu_percent"])
        data = viewer.get(chart_url, {"range": range_name, "label": "cpu=total"}).json()
        assert data["datasets"][0]["label"] == "cpu=total"
        assert sum(v is not None for v in data["datasets"][0]["data"]) == 1
        # one point per step, plus the current partial step
        assert len(data["labels"]) in {"1h": (60, 61), "24h": (144, 145), "7d": (168, 169)}[range_name]


def test_metric_chart_uses_rollups_over_7_days(page_client, service, django_assert_max_num_queries):
    from monitoring.ingest import samples_write

    now = timezone.now()
    samples_write([row(service, "queue_depth", 5, now - timedelta(hours=h)) for h in range(100)])
    rollup_run(now=now)
    viewer = page_client("viewer")
    url = reverse("monitoring:metric-chart", args=[service.slug, "queue_depth"])
    with django_assert_max_num_queries(10):
        data = json.loads(viewer.get(url, {"range": "7d", "agg": "max"}).content)
    assert sum(v == 5 for v in data["datasets"][0]["data"]) >= 99


def test_health_page_lists_status_latency_and_history(page_client, data, django_assert_max_num_queries):
    for _ in range(10):
        HealthCheckFactory(kind=CheckKind.DATABASE)
    viewer = page_client("viewer")
    with django_assert_max_num_queries(10):
        page = viewer.get(reverse("monitoring:health"))
    assert b"badge healthy" in page.content and b" ms" in page.content
    detail = viewer.get(reverse("monitoring:health-detail", args=[data["beat"].pk]))
    assert f"/ping/{data['beat'].uuid}".encode() in detail.content


def test_index_query_count_does_not_grow_with_services(page_client, data, django_assert_max_num_queries):
    from tests.factories import ServiceFactory

    for _ in range(10):
        ServiceFactory()
    viewer = page_client("viewer")
    with django_assert_max_num_queries(10):
        assert viewer.get(reverse("monitoring:index")).status_code == 200


ADMIN_MODELS = [
    "metric",
    "metricsample",
    "minuterollup",
    "hourrollup",
    "rollupstate",
    "metrictotal",
    "ingestbatch",
    "healthcheck",
    "healthcheckresult",
    "heartbeatping",
]


@pytest.mark.parametrize("actor", ["viewer", "operator", "admin"])
def test_admin_changelists(page_client, data, actor):
    client = page_client(actor)
    for model in ADMIN_MODELS:
        response = client.get(reverse(f"admin:monitoring_{model}_changelist"))
        assert response.status_code == (200 if actor == "admin" else 302), model
    if actor == "admin":
        assert client.get(reverse("admin:monitoring_healthcheck_change", args=[data["check"].pk])).status_code == 200
        assert client.get(reverse("admin:monitoring_healthcheck_add")).status_code == 200


def test_admin_validates_check_config_and_runs_checks(page_client, data):
    admin = page_client("admin")
    form = {
        "name": "api",
        "kind": "http",
        "config": '{"url": "not a url"}',
        "interval_seconds": 60,
        "timeout_seconds": 5,
        "grace_seconds": 300,
        "cron": "",
        "results-TOTAL_FORMS": 0,
        "results-INITIAL_FORMS": 0,
    }
    response = admin.post(reverse("admin:monitoring_healthcheck_add"), form)
    assert response.status_code == 200 and b"url: must be an http(s) URL" in response.content
    response = admin.post(reverse("admin:monitoring_healthcheck_add"), {**form, "timeout_seconds": 600})
    assert b"Must be between 0.1 and 60 seconds." in response.content
    assert not HealthCheck.objects.filter(name="api").exists()
    response = admin.post(
        reverse("admin:monitoring_healthcheck_changelist"),
        {"action": "run_now", "_selected_action": [data["check"].pk]},
        follow=True,
    )
    assert b"healthy" in response.content
    assert data["check"].results.count() == 1  # the same status again: stored on change only
    data["check"].refresh_from_db()
    assert data["check"].last_checked_at > data["check"].results.get().created_at
    # an edit makes the check due at the next sweep instead of waiting out its old interval
    check = data["check"]
    HealthCheck.objects.filter(pk=check.pk).update(next_run_at=timezone.now() + timedelta(days=1))
    change = {**form, "name": check.name, "kind": check.kind, "config": "{}", "service": check.service_id or ""}
    response = admin.post(reverse("admin:monitoring_healthcheck_change", args=[check.pk]), change)
    assert response.status_code == 302, response.content[:2000]
    check.refresh_from_db()
    assert check.next_run_at is None


def test_admin_sample_list_counts_at_most_the_cap(page_client, service, monkeypatch):
    from monitoring.ingest import samples_write
    from portal.admin_lists import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "CAP", 5)
    samples_write([row(service, "x", i, timezone.now()) for i in range(8)])
    response = page_client("admin").get(reverse("admin:monitoring_metricsample_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].paginator.count == 6  # one past the cap: "5+"
