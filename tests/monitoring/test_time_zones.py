"""Time is bucketed in UTC whatever TIME_ZONE says; TIME_ZONE only changes what people see.

Asia/Kolkata (UTC+05:30) is the zone where flooring in local time goes wrong by half an hour;
Europe/Berlin has the daylight-saving changes. CI runs these (and the rest of the monitoring and
alerting tests) once more with TIME_ZONE=Asia/Kolkata.
"""

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django_q.models import Task

from monitoring.alerting.models import MaintenanceWindow
from monitoring.healthchecks.heartbeat import Beat, heartbeat_status, next_due
from monitoring.query import floor_hour, floor_minute, series_query, window_aggregates
from monitoring.rollups import rollup_run
from portal.demo.health import _nightly_pings
from portal.demo.traffic import Scenario
from tests.monitoring.conftest import T0

KOLKATA = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def kolkata(settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    with timezone.override(KOLKATA):
        yield


def one_per_minute(put, service, start, minutes):
    for minute in range(minutes):
        put(service, "jobs", 1, start + timedelta(minutes=minute, seconds=10))


def test_floors_are_utc_whatever_the_zone_of_the_moment():
    moment = datetime(2026, 3, 1, 17, 45, 30, tzinfo=KOLKATA)  # 12:15:30 UTC
    assert floor_hour(moment) == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert floor_hour(moment).utcoffset() == timedelta(0)
    assert floor_minute(moment) == datetime(2026, 3, 1, 12, 15, tzinfo=UTC)


@pytest.mark.django_db
def test_hourly_query_through_the_api_counts_each_sample_once_in_a_half_hour_zone(kolkata, put, service, api_client):
    one_per_minute(put, service, T0, 135)
    rollup_run(now=T0 + timedelta(hours=3))  # everything rolled up: hour rollups and minute rollups
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        response = api_client("viewer").get(
            "/api/v1/metrics/query/",
            {
                "name": "jobs",
                "since": T0.isoformat(),
                "until": (T0 + timedelta(minutes=135)).isoformat(),
                "step": 3600,
                "agg": "count",
            },
        )
    assert response.status_code == 200, response.json()
    (series,) = response.json()["series"]
    assert [value for _, value in series["points"]] == [60, 60, 15]  # was 60, 90, 15


@pytest.mark.django_db
@pytest.mark.parametrize("rolled_until", [None, timedelta(minutes=100), timedelta(hours=3)])
def test_series_and_window_read_the_same_totals_with_local_bounds(kolkata, put, service, rolled_until):
    one_per_minute(put, service, T0, 135)
    if rolled_until is not None:
        rollup_run(now=T0 + rolled_until)
    since, until = T0.astimezone(KOLKATA), (T0 + timedelta(minutes=135)).astimezone(KOLKATA)
    (series,) = series_query(name="jobs", since=since, until=until, step=3600, agg="count")
    assert [value for _, value in series.points] == [60, 60, 15]
    assert [start for start, _ in series.points] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    (total,) = window_aggregates(name="jobs", since=since, until=until).values()
    assert total.value("count") == 135


@pytest.mark.django_db
@pytest.mark.parametrize(
    "switch",
    [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)],
    ids=["spring-forward", "fall-back"],
)
def test_hourly_query_across_a_daylight_saving_change(settings, put, service, switch):
    settings.TIME_ZONE = "Europe/Berlin"
    start = switch - timedelta(hours=2)
    one_per_minute(put, service, start, 4 * 60)
    with time_machine.travel(switch + timedelta(hours=3), tick=False):
        rollup_run(now=switch + timedelta(hours=1, minutes=30))
        since, until = start.astimezone(BERLIN), (start + timedelta(hours=4)).astimezone(BERLIN)
        (series,) = series_query(name="jobs", since=since, until=until, step=3600, agg="count")
    assert [value for _, value in series.points] == [60, 60, 60, 60]
    assert [start for start, _ in series.points] == [start + timedelta(hours=h) for h in range(4)]


def make_task(n: int, stopped: datetime, success: bool = True) -> None:
    Task.objects.create(
        id=f"t{n}", name=f"t{n}", func="portal.tasks.ping", started=stopped, stopped=stopped, success=success
    )


@pytest.mark.django_db
def test_tasks_per_hour_chart_counts_in_a_half_hour_zone(kolkata, page_client):
    now = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)  # 18:00 in Kolkata
    make_task(1, now - timedelta(minutes=10))
    make_task(2, now - timedelta(minutes=20), success=False)
    make_task(3, now - timedelta(hours=2, minutes=5))
    with time_machine.travel(now, tick=False):
        data = page_client("viewer").get("/charts/tasks-per-hour/").json()
    succeeded, failed = data["datasets"]
    assert sum(succeeded["data"]) == 2 and sum(failed["data"]) == 1  # was all zeros
    assert succeeded["data"][-1] == 1 and failed["data"][-1] == 1 and succeeded["data"][-3] == 1
    assert data["labels"][-1] == "17:30"  # the UTC hour 12:00, shown in the viewer's zone


@pytest.mark.django_db
def test_tasks_per_hour_chart_across_the_autumn_change_shows_the_repeated_hour(settings, page_client):
    settings.TIME_ZONE = "Europe/Berlin"
    now = datetime(2026, 10, 25, 2, 30, tzinfo=UTC)  # clocks went back at 01:00 UTC (03:00 -> 02:00)
    make_task(1, now - timedelta(minutes=10))  # 02:20 UTC
    make_task(2, now - timedelta(hours=1, minutes=10))  # 01:20 UTC, the second 02:20 in Berlin
    make_task(3, now - timedelta(hours=2, minutes=10))  # 00:20 UTC, the first 02:20 in Berlin
    with time_machine.travel(now, tick=False):
        data = page_client("viewer").get("/charts/tasks-per-hour/").json()
    assert data["labels"][-3:] == ["02:00", "02:00", "03:00"]
    assert data["datasets"][0]["data"][-3:] == [1, 1, 1]


def test_recurring_maintenance_window_runs_on_utc_cron_times_for_a_local_now():
    window = MaintenanceWindow(
        name="nightly", starts_at=datetime(2026, 1, 1, tzinfo=UTC), cron="0 2 * * *", duration=timedelta(hours=1)
    )
    now = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    assert window.active_until(now) == datetime(2026, 3, 2, 3, tzinfo=UTC)
    assert window.active_until(now.astimezone(KOLKATA)) == datetime(2026, 3, 2, 3, tzinfo=UTC)
    assert window.active_until(datetime(2026, 3, 1, 20, 45, tzinfo=UTC).astimezone(KOLKATA)) is None


def test_heartbeat_cron_is_read_in_utc_for_a_local_reference():
    beat = Beat(T0, None, None, None, None, "0 * * * *", 60)
    reference = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)
    assert next_due(beat, reference) == datetime(2026, 3, 1, 13, tzinfo=UTC)
    assert next_due(beat, reference.astimezone(KOLKATA)) == datetime(2026, 3, 1, 13, tzinfo=UTC)


@pytest.mark.django_db
def test_metric_chart_buckets_in_utc_and_labels_in_the_viewers_zone(kolkata, put, service, page_client):
    now = T0 + timedelta(hours=3)
    one_per_minute(put, service, T0, 135)
    rollup_run(now=now)
    with time_machine.travel(now, tick=False):
        url = reverse("monitoring:metric-chart", args=[service.slug, "jobs"])
        data = page_client("viewer").get(url, {"range": "7d", "agg": "count"}).json()
    assert data["datasets"][0]["data"][-4:] == [None, 60, 60, 15]
    assert data["labels"][-3:] == ["03-01 17:30", "03-01 18:30", "03-01 19:30"]  # 12:00 to 14:00 UTC


def test_heartbeat_messages_say_utc_times_for_local_moments():
    ping = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)
    beat = Beat(T0, ping.astimezone(KOLKATA), None, None, 3600, "", 60)
    _, message = heartbeat_status(beat, now=ping.astimezone(KOLKATA))
    assert message == "last ping 2026-03-01 12:10:00 UTC, next due by 2026-03-01 13:10:00 UTC"


def test_demo_days_are_utc_days_for_a_local_now():
    now = datetime(2026, 3, 2, 20, tzinfo=UTC)  # already 3 March in Kolkata
    assert Scenario.around(now.astimezone(KOLKATA)) == Scenario.around(now)
    pings = _nightly_pings(now.astimezone(KOLKATA) - timedelta(days=3), now, np.random.default_rng(1))
    assert {(p.at.astimezone(UTC).hour, p.at.astimezone(UTC).minute) for p in pings if p.kind == "start"} == {(2, 30)}


def test_the_environment_chooses_the_zone_of_the_test_run():
    """CI's second pass sets TIME_ZONE=Asia/Kolkata: it must reach the settings, or that pass
    would only repeat the UTC one."""
    wanted = os.environ.get("TIME_ZONE")
    if not wanted:
        pytest.skip("TIME_ZONE is not set for this run")
    assert wanted == settings.TIME_ZONE
    assert timezone.get_current_timezone_name() == wanted
