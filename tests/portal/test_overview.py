"""The home page answers "is anything wrong?" for people with a role, in a fixed number of queries."""

import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import Task

from monitoring.alerting.models import Alert, AlertStatus
from monitoring.models import HealthStatus
from tests.alerting.factories import AlertRuleFactory
from tests.factories import ServiceFactory
from tests.monitoring.factories import HealthCheckFactory

pytestmark = pytest.mark.django_db
_fingerprints = count()


def make_alert(service, summary, *, severity="critical", status=AlertStatus.FIRING, ago=timedelta(minutes=5)):
    return Alert.objects.create(
        rule=AlertRuleFactory(severity=severity),
        fingerprint=f"fp{next(_fingerprints)}",
        service=service,
        severity=severity,
        summary=summary,
        status=status,
        created_at=datetime.now(UTC) - ago,
    )


@pytest.fixture
def world(db):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    billing = ServiceFactory(name="Billing", slug="billing")
    search = ServiceFactory(name="Search", slug="search")
    quiet = ServiceFactory(name="Archive", slug="archive")
    return {
        "services": (checkout, billing, search, quiet),
        "firing": make_alert(checkout, "Checkout is failing", ago=timedelta(minutes=7)),
        "acknowledged": make_alert(
            billing, "Invoices are late", severity="warning", status=AlertStatus.ACKNOWLEDGED, ago=timedelta(hours=3)
        ),
        "resolved": make_alert(search, "Search was slow", status=AlertStatus.RESOLVED),
        "failing": HealthCheckFactory(service=checkout, name="Payments API", last_status=HealthStatus.UNHEALTHY),
        "degraded": HealthCheckFactory(
            service=billing, name="Ledger lag", last_status=HealthStatus.DEGRADED, last_message="4 minutes behind"
        ),
        "healthy": HealthCheckFactory(service=search, name="Index", last_status=HealthStatus.HEALTHY),
    }


def test_anonymous_people_are_sent_to_log_in(page_client):
    response = page_client("anonymous").get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_without_a_role_the_page_shows_only_the_note(world, page_client):
    html = page_client("norole").get("/").content.decode()
    assert "has no role yet" in html
    for hidden in ("Checkout", "Checkout is failing", "Payments API", "Ledger lag", "tasks-chart", "Workers"):
        assert hidden not in html


@pytest.mark.parametrize("actor", ["viewer", "operator", "admin"])
def test_people_with_a_role_see_what_is_wrong(world, page_client, actor):
    html = page_client(actor).get("/").content.decode()
    assert "has no role yet" not in html
    assert re.search(r'id="open-alerts">2<', html)
    assert f'href="/alerts/{world["firing"].pk}/">Checkout is failing</a>' in html
    assert f'href="/alerts/{world["acknowledged"].pk}/">Invoices are late</a>' in html
    assert "7\xa0minutes ago" in html and "3\xa0hours ago" in html
    assert "Search was slow" not in html  # resolved
    assert re.search(r'id="failing-checks">1 unhealthy<', html)
    assert f'href="/monitoring/health/{world["failing"].pk}/">Payments API</a>' in html
    assert f'href="/monitoring/health/{world["degraded"].pk}/">Ledger lag</a>' in html and "4 minutes behind" in html
    assert ">Index</a>" not in html  # healthy checks are not listed
    assert 'data-chart-url="/charts/tasks-per-hour/"' in html


def test_services_are_listed_worst_first_with_their_status(world, page_client):
    html = page_client("viewer").get("/").content.decode()
    rows = re.findall(r'<span class="dot (\w+)"[^>]*></span> <a href="/monitoring/services/([\w-]+)/">', html)
    assert rows == [("unhealthy", "checkout"), ("degraded", "billing"), ("healthy", "search"), ("unknown", "archive")]
    assert 'href="/alerts/?service=checkout">1 firing</a>' in html
    assert 'href="/alerts/?service=billing">0 firing, 1 acknowledged</a>' in html


def test_open_alerts_are_counted_by_severity(world, page_client):
    make_alert(world["services"][2], "Disk filling", severity="warning")
    html = page_client("viewer").get("/").content.decode()
    assert re.search(r'class="badge critical">critical</span> 1 firing<', html)
    assert re.search(r'class="badge warning">warning</span> 1 firing, 1 acknowledged<', html)


def test_a_calm_portal_says_so(db, page_client):
    html = page_client("viewer").get("/").content.decode()
    assert "No open alerts." in html and "Every check that has run is healthy." in html
    assert "not running" in html and "never" in html


def test_workers_are_running_when_a_task_finished_recently(db, page_client):
    now = datetime.now(UTC)
    Task.objects.create(id="t1", name="t1", func="portal.tasks.ping", started=now, stopped=now, success=True)
    html = page_client("viewer").get("/").content.decode()
    assert ">running<" in html and "just now" in html


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    return len(captured)


def test_the_query_count_does_not_grow_with_alerts_checks_and_services(
    world, page_client, django_assert_max_num_queries
):
    client = page_client("operator")
    few = _queries(client)
    for n in range(40):
        service = ServiceFactory(name=f"service {n}", slug=f"service-{n}")
        for status in (HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY):
            HealthCheckFactory(service=service, last_status=status)
        for severity in ("critical", "warning", "info"):
            make_alert(service, f"{severity} on {n}", severity=severity)
        make_alert(service, f"old {n}", status=AlertStatus.RESOLVED)
    assert _queries(client) == few
    # session, user, role; last task, schedules; 5 for the overview; 20 for the range's tiles (the
    # dashboard's own test counts them with every app's data)
    with django_assert_max_num_queries(30):
        assert client.get("/").status_code == 200
