"""A heartbeat check's page shows its recent pings (time, kind, run duration) instead of a
latency chart, which a heartbeat does not have."""

from datetime import timedelta

import pytest
from django.urls import reverse

from monitoring.heartbeats import heartbeat_ping
from monitoring.models import CheckKind
from monitoring.views import SHOWN_PINGS
from tests.monitoring.conftest import T0
from tests.monitoring.factories import HealthCheckFactory

pytestmark = pytest.mark.django_db


def ping(check, kind, at):
    return heartbeat_ping(check=check, kind=kind, now=at, remote_addr="10.0.0.7", user_agent="curl/8.5")


def rows(html: str) -> list[str]:
    table = html.split('<table id="pings">')[1].split("</table>")[0]
    return table.split("<tbody>")[1].split("</tr>")[:-1]


def test_pings_are_listed_newest_first_with_the_duration_of_each_run(page_client, service, settings):
    settings.TIME_ZONE = "UTC"  # the times below as shown; CI also runs this file in Asia/Kolkata
    beat = HealthCheckFactory(service=service, name="nightly", kind=CheckKind.HEARTBEAT, period_seconds=86400)
    ping(beat, "start", T0)
    ping(beat, "success", T0 + timedelta(minutes=4, seconds=5))
    ping(beat, "start", T0 + timedelta(days=1))
    ping(beat, "fail", T0 + timedelta(days=1, seconds=12.3))
    ping(beat, "success", T0 + timedelta(days=2))  # no start before it: no duration
    html = page_client("viewer").get(reverse("monitoring:health-detail", args=[beat.pk])).content.decode()
    assert f'data-chart-url="/monitoring/health/{beat.pk}/latency.json"' not in html
    found = rows(html)
    assert len(found) == 5
    assert "2026-03-03 12:00:00 UTC" in found[0] and "Success" in found[0]
    assert " s<" not in found[0] and "min" not in found[0]  # nothing to measure from
    assert "Fail" in found[1] and "12.3 s" in found[1]
    assert "Start" in found[2] and "2026-03-02 12:00:00 UTC" in found[2]
    assert "Success" in found[3] and "4 min 5 s" in found[3]
    assert "10.0.0.7" in found[4] and "curl/8.5" in found[4]
    assert "every 1 d" in html  # the period, for people


def test_the_oldest_shown_run_still_finds_its_start(page_client, service):
    beat = HealthCheckFactory(service=service, kind=CheckKind.HEARTBEAT, period_seconds=60)
    at = T0
    for _ in range(SHOWN_PINGS // 2 + 1):
        ping(beat, "start", at)
        ping(beat, "success", at + timedelta(seconds=30))
        at += timedelta(minutes=1)
    found = rows(page_client("viewer").get(reverse("monitoring:health-detail", args=[beat.pk])).content.decode())
    assert len(found) == SHOWN_PINGS
    durations = [r for r in found if "30 s" in r]
    assert len(durations) == SHOWN_PINGS // 2


def test_a_heartbeat_without_pings_says_so(page_client, service):
    beat = HealthCheckFactory(service=service, kind=CheckKind.HEARTBEAT, period_seconds=60)
    html = page_client("viewer").get(reverse("monitoring:health-detail", args=[beat.pk])).content.decode()
    assert "No pings yet" in html and 'data-chart-url="' not in html


def test_other_checks_keep_their_latency_chart(page_client, service):
    check = HealthCheckFactory(service=service, kind=CheckKind.DATABASE)
    html = page_client("viewer").get(reverse("monitoring:health-detail", args=[check.pk])).content.decode()
    assert f'data-chart-url="/monitoring/health/{check.pk}/latency.json"' in html
    assert 'id="pings"' not in html
