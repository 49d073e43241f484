"""Admin changelists over big tables: a capped count shown as "10,000+", no date hierarchy, rows read
in index order, and the same number of queries whatever the number of rows."""

import itertools
import re
from datetime import timedelta

import pytest
from django.contrib.admin.templatetags import admin_urls
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring.alerting.models import Alert, AlertEvent, Delivery
from monitoring.ingest import samples_write
from monitoring.models import HealthCheck, HealthCheckResult, HeartbeatPing, HourRollup, MetricSample, MinuteRollup
from portal.admin_lists import CappedPaginator
from portal.models import Service
from tests.alerting.factories import AlertRuleFactory, ChannelFactory
from tests.factories import ServiceFactory, UserFactory
from tests.monitoring.conftest import row
from tests.query_plans import whole_table_sorts
from tests.support import on_postgres

NOW = timezone.now().replace(microsecond=0)
serial = itertools.count()


def _alerts(n):
    rule, service = AlertRuleFactory(), ServiceFactory()  # each call adds other related rows too
    return Alert.objects.bulk_create(
        Alert(rule=rule, service=service, fingerprint=f"{next(serial):040x}", summary="s", status="resolved",
              created_at=NOW - timedelta(minutes=i))
        for i in range(n)
    )  # fmt: skip


def _events(n):
    user = UserFactory()
    return AlertEvent.objects.bulk_create(AlertEvent(alert=a, kind="commented", actor=user) for a in _alerts(n))


def _deliveries(n):
    channel = ChannelFactory()
    return Delivery.objects.bulk_create(Delivery(alert=a, channel=channel, event="trigger") for a in _alerts(n))


def _check():
    return HealthCheck.objects.create(name=f"check {next(serial)}", kind="tcp", service=ServiceFactory())


def _results(n):
    check = _check()
    HealthCheckResult.objects.bulk_create(HealthCheckResult(health_check=check, status="healthy") for _ in range(n))


def _pings(n):
    check = _check()
    HeartbeatPing.objects.bulk_create(HeartbeatPing(health_check=check, kind="success") for _ in range(n))


def _samples(n):
    service = ServiceFactory()
    samples_write([row(service, "latency", i, NOW - timedelta(seconds=i), route=f"/{i}") for i in range(n)])


def _rollups(model):
    def make(n):
        service = ServiceFactory()
        model.objects.bulk_create(
            model(service=service, name="latency", labels={"n": i}, labels_hash=f"{i:016x}",
                  start=NOW - timedelta(minutes=i), count=1, sum=1, min=1, max=1, last=1, sketch=b"")
            for i in range(n)
        )  # fmt: skip

    return make


BIG_TABLES = {
    "alerting/alert": (Alert, _alerts),
    "alerting/alertevent": (AlertEvent, _events),
    "alerting/delivery": (Delivery, _deliveries),
    "monitoring/healthcheckresult": (HealthCheckResult, _results),
    "monitoring/heartbeatping": (HeartbeatPing, _pings),
    "monitoring/metricsample": (MetricSample, _samples),
    "monitoring/minuterollup": (MinuteRollup, _rollups(MinuteRollup)),
    "monitoring/hourrollup": (HourRollup, _rollups(HourRollup)),
}


@pytest.fixture
def capped(monkeypatch):
    monkeypatch.setattr(CappedPaginator, "CAP", 5)


def test_paginator_counts_exactly_up_to_the_cap(db, capped):
    ServiceFactory.create_batch(5)
    paginator = CappedPaginator(Service.objects.order_by("pk"), 2)
    assert paginator.count == 5 and str(paginator.count) == "5"
    assert not paginator.capped
    assert [len(paginator.page(n)) for n in paginator.page_range] == [2, 2, 1]


def test_paginator_past_the_cap_counts_one_more_row_and_shows_the_cap_with_a_plus(db, capped):
    ServiceFactory.create_batch(12)
    paginator = CappedPaginator(Service.objects.order_by("pk"), 4)
    with CaptureQueriesContext(connection) as captured:
        assert paginator.count == 6
    assert "LIMIT 6" in captured[0]["sql"]  # never reads past the cap
    assert paginator.capped and str(paginator.count) == "5+" and f"{paginator.count}" == "5+"
    # the last page within the cap is a full page, not the one row beyond the cap
    assert paginator.num_pages == 2 and len(paginator.page(2)) == 4


@pytest.mark.parametrize("path", BIG_TABLES)
def test_big_table_changelist_shows_a_capped_count_past_the_cap(page_client, capped, path):
    model, make = BIG_TABLES[path]
    make(3)
    html = page_client("admin").get(f"/admin/{path}/").content.decode()
    assert f"3 {model._meta.verbose_name_plural}" in html
    make(4)
    response = page_client("admin").get(f"/admin/{path}/")
    html = response.content.decode()
    assert f"5+ {model._meta.verbose_name_plural}" in html
    assert "Select all 5+" in html
    assert len(response.context["cl"].result_list) == 7  # every row is still listed


@pytest.mark.parametrize("path", BIG_TABLES)
def test_big_table_changelist_runs_the_same_queries_with_more_rows(page_client, django_assert_max_num_queries, path):
    _, make = BIG_TABLES[path]
    make(2)
    client = page_client("admin")
    client.get(f"/admin/{path}/")
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/admin/{path}/").status_code == 200
    for _ in range(3):  # rows of other services, rules, checks, users
        make(20)
    with django_assert_max_num_queries(len(few)):
        response = client.get(f"/admin/{path}/")
    assert len(response.context["cl"].result_list) == 62


@pytest.mark.parametrize("path", BIG_TABLES)
def test_big_table_changelist_reads_rows_in_index_order(page_client, path):
    if on_postgres():
        pytest.skip("reads SQLite's query plans; PostgreSQL's depend on table statistics")
    # A date hierarchy would de-duplicate the dates of every row; a list ordered without a
    # matching index sorts every row.
    model, make = BIG_TABLES[path]
    make(3)
    with CaptureQueriesContext(connection) as captured:
        assert page_client("admin").get(f"/admin/{path}/").status_code == 200
    assert whole_table_sorts(captured.captured_queries, model._meta.db_table) == []


@pytest.mark.parametrize("path", ["alerting/alert", "alerting/alertevent", "alerting/delivery"])
def test_a_filtered_big_table_links_rows_with_its_filters_without_resolving_each_row(page_client, monkeypatch, path):
    _, make = BIG_TABLES[path]
    make(6)
    resolved = []
    real = admin_urls.resolve
    monkeypatch.setattr(admin_urls, "resolve", lambda url: resolved.append(url) or real(url))
    response = page_client("admin").get(f"/admin/{path}/?id__gte=1")
    assert response.status_code == 200
    links = re.findall(rf'href="(/admin/{path}/\d+/change/[^"]*)"', response.content.decode())
    assert len(links) == 6
    # Saving a row still returns to the filtered list: each link carries the list's filters.
    assert all(link.endswith("?_changelist_filters=id__gte%3D1") for link in links)
    assert len(resolved) < 6  # Django's add_preserved_filters resolved every row's URL
