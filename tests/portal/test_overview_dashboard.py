"""The overview dashboard's range tiles and charts: figures on hand-built data from every app,
empty states, the `range` parameter, and a query count that stays the same with 10x the data."""

import re
import sys
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import UsageEvent
from analytics.rollups import rollup_run as features_fold
from codehealth.models import CodeRepository, CodeScan
from maintenance.models import Environment, MaintenanceRun, MaintenanceTask, RunStatus
from monitoring.errors.models import ActivityKind, ErrorGroup, ErrorGroupActivity, ErrorGroupHour
from monitoring.ingest import samples_write
from monitoring.labels import labels_canonical, labels_hash
from monitoring.requests import REQUEST_DURATION
from monitoring.rollups import rollup_run
from reporting.dashboard import RangeError, span_of, step_buckets
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db
_serial = count()


def request_row(service, seconds, at, *, route="/a/", status_class="2xx"):
    canonical = labels_canonical({"route": route, "method": "GET", "status_class": status_class})
    return (service.pk, REQUEST_DURATION, canonical, labels_hash(canonical), float(seconds), at)


def error_group(service, title, *, first_seen, regressed_at=None, times_seen=1):
    group = ErrorGroup.objects.create(
        service=service,
        fingerprint=f"{next(_serial):064x}",
        title=title,
        times_seen=times_seen,
        first_seen=first_seen,
        last_seen=first_seen,
    )
    hour = first_seen.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    ErrorGroupHour.objects.create(group=group, hour=hour, count=times_seen)
    if regressed_at is not None:
        ErrorGroupActivity.objects.create(group=group, kind=ActivityKind.REGRESSED, created_at=regressed_at)
    return group


def scan(repository, debt, finished_at):
    return CodeScan.objects.create(
        repository=repository,
        status=CodeScan.Status.SUCCEEDED,
        queued_at=finished_at,
        finished_at=finished_at,
        debt_count=debt,
    )


def add_data(now, tmp_path, n: int = 1) -> dict:
    """n services' worth of data in every app, inside the last 24 hours and before it."""
    made = {}
    for _ in range(n):
        tag = next(_serial)
        service = ServiceFactory(name=f"Shop {tag}", slug=f"shop-{tag}")
        rows = [request_row(service, 0.010 * (k + 1), now - timedelta(minutes=90 + k)) for k in range(19)]
        rows.append(request_row(service, 2.0, now - timedelta(minutes=20), status_class="5xx"))
        rows.append(request_row(service, 0.5, now - timedelta(days=3)))  # outside 24h
        samples_write(rows)
        made.setdefault("services", []).append(service)
        made["new"] = error_group(service, f"KeyError {tag}", first_seen=now - timedelta(hours=2), times_seen=7)
        made["regressed"] = error_group(
            service, f"Timeout {tag}", first_seen=now - timedelta(days=9), regressed_at=now - timedelta(minutes=30)
        )
        error_group(service, f"Old {tag}", first_seen=now - timedelta(days=3))
        repository = CodeRepository.objects.create(name=f"repo {tag}", path=str(tmp_path))
        scan(repository, 10, now - timedelta(days=2))
        scan(repository, 13, now - timedelta(hours=1))
        made["repository"] = repository
        UsageEvent.objects.bulk_create(
            [UsageEvent(service=service, name="export.csv", time=now - timedelta(hours=5, minutes=k)) for k in range(3)]
            + [UsageEvent(service=service, name="search", time=now - timedelta(hours=3), success=False)]
            + [UsageEvent(service=service, name="archived", time=now - timedelta(days=4))]
        )
        environment = Environment.objects.create(name=f"env {tag}", python=sys.executable, project_dir=str(tmp_path))
        audit = MaintenanceTask.objects.create(
            kind=MaintenanceTask.Kind.SECURITY_AUDIT,
            title=f"Audit {tag}",
            environment=environment,
            created_at=now,
            updated_at=now,
        )
        cleanup = MaintenanceTask.objects.create(
            kind=MaintenanceTask.Kind.REFACTOR, title=f"Cleanup {tag}", created_at=now, updated_at=now
        )
        vuln = {"id": "PYSEC-1", "package": "jinja2", "version": "2.0", "fix_versions": ["3.1.6"], "reachable": True}
        MaintenanceRun.objects.create(
            task=audit,
            trigger="schedule",
            status=RunStatus.SUCCEEDED,
            created_at=now - timedelta(hours=4),
            finished_at=now - timedelta(hours=4),
            changes={"vulnerabilities": [vuln]},
        )
        MaintenanceRun.objects.create(
            task=cleanup, trigger="schedule", status=RunStatus.FAILED, created_at=now - timedelta(hours=2)
        )
        made["waiting"] = MaintenanceRun.objects.create(
            task=cleanup, trigger="manual", status=RunStatus.WAITING_APPROVAL, created_at=now - timedelta(hours=1)
        )
    # The first of the two hours rolled up (hour rollups for whole hours), the rest raw.
    rollup_run(now=now - timedelta(minutes=45))
    features_fold(now=now)
    return made


def html_of(client, path="/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def test_every_tile_shows_its_figures_and_links_to_its_page(page_client, tmp_path):
    now = timezone.now()
    made = add_data(now, tmp_path)
    html = html_of(page_client("viewer"))
    # requests: 20 in 24h (one 5xx), the one 3 days ago is outside the range
    assert re.search(r'id="request-count">20<', html)
    assert re.search(r'id="request-error-rate">5 %<', html)
    # p95 of 10, 20 .. 190 ms and 2 s, rolled-up and raw minutes merged: the 19th value (sketches: 1 %)
    p95 = re.search(r'id="request-p95">([\d.]+) ms p95<', html)
    assert p95 and 188 <= float(p95.group(1)) <= 192
    assert 'href="/monitoring/endpoints/?service=' in html
    # error groups: one new, one regressed (first seen 9 days ago); "Old" was new 3 days ago
    assert re.search(r'id="errors-new">1<', html) and re.search(r'id="errors-regressed">1<', html)
    assert f'href="/monitoring/errors/{made["new"].pk}/">KeyError' in html
    assert f'href="/monitoring/errors/{made["regressed"].pk}/">Timeout' in html
    assert "Old " not in html
    # debt: 13 now, 10 at the last scan before the range
    assert re.search(r'id="debt-total">13<', html) and re.search(r'id="debt-change">\+3 in 24h<', html)
    assert f'href="/codehealth/{made["repository"].pk}/">' in html
    # features: export.csv 3 uses, search 1 failed; "archived" was used 4 days ago only
    assert re.search(r'id="features-used">2<', html)
    assert 'href="/analytics/features/export.csv/">export.csv</a> <span class="muted">3 uses</span>' in html
    assert "1 failed" in html and "archived" not in html
    # maintenance and vulnerabilities
    assert re.search(r'id="maintenance-pending">1<', html) and re.search(r'id="maintenance-failed">1<', html)
    assert f'href="/maintenance/runs/{made["waiting"].pk}/">Cleanup' in html
    assert re.search(r'id="vulnerabilities-open">1</span> · 1 reachable', html)
    assert "jinja2 2.0" in html and "fixed in 3.1.6" in html


def test_features_count_rollups_and_the_events_not_folded_yet_once(page_client, tmp_path):
    now = timezone.now()
    service = add_data(now, tmp_path)["services"][0]
    UsageEvent.objects.bulk_create(
        [UsageEvent(service=service, name="search", time=now - timedelta(minutes=m), success=False) for m in (5, 6)]
        + [UsageEvent(service=service, name="export.csv", time=now - timedelta(days=3))]  # not folded, outside 24h
    )
    for range_name in ("24h", "7d"):
        html = html_of(page_client("viewer"), f"/?range={range_name}")
        assert 'href="/analytics/features/search/">search</a> <span class="muted">3 uses, 3 failed</span>' in html
    assert 'export.csv</a> <span class="muted">3 uses</span>' in html_of(page_client("viewer"))
    assert 'export.csv</a> <span class="muted">4 uses</span>' in html_of(page_client("viewer"), "/?range=7d")


def test_a_group_that_regressed_twice_counts_once(page_client, tmp_path):
    now = timezone.now()
    group = add_data(now, tmp_path)["regressed"]
    ErrorGroupActivity.objects.create(group=group, kind=ActivityKind.REGRESSED, created_at=now - timedelta(minutes=5))
    html = html_of(page_client("viewer"))
    assert re.search(r'id="errors-regressed">1<', html)
    assert html.count(f'href="/monitoring/errors/{group.pk}/">Timeout') == 2  # each regression is listed


def test_a_shorter_range_sees_only_its_window(page_client, tmp_path):
    add_data(timezone.now(), tmp_path)
    html = html_of(page_client("viewer"), "/?range=1h")
    assert re.search(r'id="request-count">1<', html)  # only the 5xx 20 minutes ago
    assert re.search(r'id="request-error-rate">100 %<', html)
    assert re.search(r'id="errors-new">0<', html) and re.search(r'id="errors-regressed">1<', html)
    assert "No tracked feature was used in 1h." in html
    assert '<b aria-current="true">1h</b>' in html and 'href="?range=7d"' in html
    assert 'data-chart-url="/charts/requests/?range=1h"' in html


def test_an_empty_portal_shows_every_empty_state(db, page_client):
    html = html_of(page_client("viewer"), "/?range=30d")
    for empty in (
        "No requests recorded in 30d.",
        "No new or regressed error groups in 30d.",
        "No repositories are scanned yet.",
        "No tracked feature was used in 30d.",
        "No maintenance has run yet.",
        "No open vulnerabilities in the latest audits.",
    ):
        assert empty in html


@pytest.mark.parametrize(
    "path", ["/?range=2h", "/?range=24H", "/charts/requests/?range=week", "/charts/error-events/?range=1H"]
)
def test_a_bad_range_is_a_400_naming_the_field(db, page_client, path):
    response = page_client("viewer").get(path)
    assert response.status_code == 400
    assert "range" in response.content.decode() and "1h, 24h, 7d, 30d" in response.content.decode()


def test_no_range_or_an_empty_one_is_the_last_24_hours(db, page_client):
    for path in ("/", "/?range="):
        assert '<b aria-current="true">24h</b>' in html_of(page_client("viewer"), path)


def test_people_without_a_role_get_the_note_whatever_the_range(db, page_client):
    html = html_of(page_client("norole"), "/?range=bogus")
    assert "has no role yet" in html
    for hidden in ("tile-errors", "requests-chart", "refresh.js", "data-refresh-seconds"):
        assert hidden not in html


def test_the_page_refreshes_itself_from_its_own_static_script(db, page_client):
    html = html_of(page_client("viewer"))
    assert 'id="dashboard" data-refresh-seconds="60"' in html
    assert re.search(r'<script src="/static/portal/refresh\.js[^"]*"></script>', html)
    assert "https://" not in re.sub(r'href="https://[^"]*"', "", html)  # no third-party script host


def test_the_request_chart_counts_requests_and_5xx_per_step(page_client, tmp_path):
    now = timezone.now()
    add_data(now, tmp_path)
    data = page_client("viewer").get("/charts/requests/?range=24h").json()
    requests, errors = (d["data"] for d in data["datasets"])
    assert [d["label"] for d in data["datasets"]] == ["requests", "5xx answers"]
    assert len(data["labels"]) == len(requests) in (24, 25)
    # The 5xx answer was 20 minutes ago: in the last hour's step, or the one before it when the
    # hour is younger than that.
    last = -1 if (now - timedelta(minutes=20)).hour == now.hour else -2
    assert sum(requests) == 20 and sum(errors) == 1 and errors[last] == 1


def test_the_error_chart_sums_the_groups_hour_counts(page_client, tmp_path):
    add_data(timezone.now(), tmp_path)
    (events,) = (d["data"] for d in page_client("viewer").get("/charts/error-events/?range=7d").json()["datasets"])
    assert sum(events) == 7 + 1  # new (7 events), "Old" 3 days ago; "Timeout" 9 days ago is out
    (day,) = (d["data"] for d in page_client("viewer").get("/charts/error-events/?range=24h").json()["datasets"])
    assert sum(day) == 7


def test_the_one_hour_error_chart_leaves_out_the_hour_the_range_starts_in(db, service):
    from reporting.dashboard_tiles import error_event_series

    now = datetime(2026, 3, 2, 12, 55, tzinfo=UTC)
    group = error_group(service, "KeyError", first_seen=now - timedelta(hours=2), times_seen=1)
    ErrorGroupHour.objects.create(group=group, hour=now.replace(hour=11, minute=0), count=100)  # 11:00-12:00
    ErrorGroupHour.objects.create(group=group, hour=now.replace(minute=0), count=3)  # 12:00-12:55
    buckets, events = error_event_series(span_of("1h", now=now))
    # The range is 11:55-12:55: the 11:00 hour's events are nearly all from before it.
    assert sum(events) == 3 and events[buckets.index(now.replace(minute=0))] == 3


def test_the_debt_totals_count_every_repository_not_only_the_listed_ones(db, tmp_path):
    from reporting.dashboard_tiles import REPOSITORIES_MAX, debt_figures

    now = timezone.now()
    for i in range(REPOSITORIES_MAX + 3):
        repository = CodeRepository.objects.create(name=f"repo{i:02}", path=str(tmp_path / str(i)))
        scan(repository, 2, now - timedelta(days=3))
        scan(repository, 5, now - timedelta(hours=1))
    figures = debt_figures(span_of("24h", now=now))
    assert len(figures.repositories) == REPOSITORIES_MAX
    assert (figures.total, figures.change) == (5 * (REPOSITORIES_MAX + 3), 3 * (REPOSITORIES_MAX + 3))


def test_day_steps_are_labelled_with_their_utc_date_in_any_time_zone(db, page_client, settings):
    settings.TIME_ZONE = "America/New_York"
    data = page_client("viewer").get("/charts/requests/?range=30d").json()
    today = timezone.now().astimezone(UTC)
    assert data["labels"][-1] == today.strftime("%b %d")


def test_step_buckets_are_utc_aligned_and_cover_the_range():
    now = datetime(2026, 3, 29, 1, 37, tzinfo=UTC)  # the night Europe's clocks go forward
    for name, (points, step) in {"1h": (13, 300), "24h": (25, 3600), "7d": (29, 21600), "30d": (31, 86400)}.items():
        span = span_of(name, now=now)
        buckets = step_buckets(span)
        assert len(buckets) == points and buckets[0] <= span.since < buckets[0] + timedelta(seconds=step)
        assert all(int(b.timestamp()) % step == 0 for b in buckets)
    with pytest.raises(RangeError, match="range"):
        span_of("90d", now=now)


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


@pytest.mark.parametrize("range_name", ["1h", "24h", "7d", "30d"])
def test_the_query_count_is_the_same_with_ten_times_the_data(
    page_client, tmp_path, range_name, django_assert_max_num_queries
):
    now = timezone.now()
    client = page_client("operator")
    add_data(now, tmp_path, n=1)
    path = f"/?range={range_name}"
    few = _queries(client, path)
    add_data(now, tmp_path, n=10)
    assert _queries(client, path) == few
    # session, user, role, workers (2), overview (5), alert ages (2), tasks, requests (watermark
    # + hour, minute and raw samples), errors (4), debt, features (up to 5), maintenance (6)
    with django_assert_max_num_queries(34):
        assert client.get(path).status_code == 200
    for chart in ("/charts/requests/", "/charts/error-events/"):
        assert _queries(client, f"{chart}?range={range_name}") <= 8
