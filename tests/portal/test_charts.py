from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django_q.models import Task

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)


def make_task(stopped, success: bool, n: int):
    Task.objects.create(
        id=f"t{n}", name=f"task{n}", func="portal.tasks.ping", started=stopped, stopped=stopped, success=success
    )


@time_machine.travel(NOW, tick=False)
def test_tasks_per_hour_chart_counts_by_hour_and_outcome(page_client):
    make_task(NOW - timedelta(minutes=10), True, 1)
    make_task(NOW - timedelta(minutes=20), True, 2)
    make_task(NOW - timedelta(minutes=25), False, 3)
    make_task(NOW - timedelta(hours=2, minutes=5), True, 4)
    make_task(NOW - timedelta(days=3), True, 5)  # outside the window
    response = page_client("viewer").get("/charts/tasks-per-hour/")
    assert response.status_code == 200
    data = response.json()
    assert "view" not in data
    assert len(data["labels"]) == 24 and data["labels"][-1] == "12:00"
    succeeded, failed = data["datasets"]
    assert (succeeded["label"], failed["label"]) == ("succeeded", "failed")
    assert succeeded["data"][-1] == 2 and failed["data"][-1] == 1
    assert succeeded["data"][-3] == 1
    assert sum(succeeded["data"]) == 3


@pytest.mark.parametrize(
    "actor, expected", [("anonymous", 403), ("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200)]
)
def test_chart_json_needs_login(page_client, actor, expected):
    assert page_client(actor).get("/charts/tasks-per-hour/").status_code == expected


def test_chart_query_count_does_not_grow_with_tasks(page_client, django_assert_max_num_queries):
    for n in range(30):
        make_task(datetime.now(UTC) - timedelta(minutes=n * 20), n % 3 != 0, n)
    client = page_client("viewer")
    with django_assert_max_num_queries(6):
        assert client.get("/charts/tasks-per-hour/").status_code == 200


def test_home_page_draws_the_chart_with_chartjs_4(page_client):
    html = page_client("viewer").get("/").content.decode()
    assert 'data-chart-url="/charts/tasks-per-hour/"' in html
    assert "vendor/chart.js/chart.umd.js" in html
    bundled = finders.find("vendor/chart.js/chart.umd.js")
    assert bundled, "run npm ci: Chart.js 4 is not installed"
    with open(bundled) as handle:
        assert "Chart.js v4." in handle.read(400)


def test_the_old_chartjs_bundled_by_django_chartjs_is_not_served():
    assert finders.find("js/Chart.min.js") is None


def test_home_page_says_when_workers_last_finished_a_task(page_client):
    assert "never" in page_client("viewer").get("/").content.decode()
    make_task(datetime.now(UTC) - timedelta(minutes=3), True, 99)
    assert "3\xa0minutes ago" in page_client("viewer").get("/").content.decode()
    make_task(datetime.now(UTC) - timedelta(seconds=5), True, 100)
    assert "just now" in page_client("viewer").get("/").content.decode()
