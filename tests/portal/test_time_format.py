"""One time format, 24-hour with the zone, on the pages and in the admin (portal/formats)."""

from datetime import UTC, datetime

import pytest

from monitoring.alerting.lifecycle import alert_fire
from tests.alerting.factories import AlertRuleFactory
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db
EVENING = datetime(2026, 3, 2, 21, 5, 9, tzinfo=UTC)


def test_the_admin_change_list_shows_24_hour_times_with_the_zone(page_client):
    ServiceFactory(name="Checkout", slug="checkout", created_at=EVENING)
    html = page_client("admin").get("/admin/portal/service/").content.decode()
    assert "2026-03-02 21:05 UTC" in html
    assert "p.m." not in html and "9:05" not in html


def test_the_time_zone_setting_changes_what_people_see(page_client, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    ServiceFactory(name="Checkout", slug="checkout", created_at=EVENING)
    html = page_client("admin").get("/admin/portal/service/").content.decode()
    assert "2026-03-02 22:05 CET" in html


def test_an_alert_page_shows_24_hour_times_with_the_zone(page_client, service):
    rule = AlertRuleFactory()
    alert, _ = alert_fire(rule=rule, fingerprint="f", labels={}, value=1.0, summary="s", service=service, now=EVENING)
    html = page_client("viewer").get(f"/alerts/{alert.pk}/").content.decode()
    assert "<td>2026-03-02 21:05:09 UTC</td>" in html  # fired
    assert '<td class="nowrap">2026-03-02 21:05:09 UTC</td>' in html  # the timeline
    assert "p.m." not in html
    listing = page_client("viewer").get("/alerts/").content.decode()
    assert 'title="2026-03-02 21:05 UTC"' in listing
