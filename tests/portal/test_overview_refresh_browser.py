"""In a real headless Chromium: the overview refreshes its tiles and charts by itself every 60 s
(the page's clock is fast-forwarded), and stops while the box is unticked."""

from contextlib import contextmanager
from itertools import count

import pytest
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from monitoring.alerting.models import Alert
from monitoring.errors.models import ErrorGroup, ErrorGroupHour
from tests.alerting.factories import AlertRuleFactory
from tests.portal.test_layout_browser import ARGS, CHROMIUM, browser_env, session_cookie  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
_serial = count()


def fire(service) -> None:
    Alert.objects.create(
        rule=AlertRuleFactory(),
        fingerprint=f"refresh{next(_serial)}",
        service=service,
        severity="critical",
        summary="Checkout is failing",
    )


def error_events(service, n: int) -> None:
    now = timezone.now()
    group = ErrorGroup.objects.create(
        service=service, fingerprint=f"{next(_serial):064x}", title="KeyError", first_seen=now, last_seen=now
    )
    ErrorGroupHour.objects.create(group=group, hour=now.replace(minute=0, second=0, microsecond=0), count=n)


CHART_SUM = "(id) => Chart.getChart(document.getElementById(id)).data.datasets[0].data.reduce((a, b) => a + b, 0)"


@contextmanager
def overview_as_viewer(live_server, users):
    """(context, page): the overview in headless Chromium as a viewer, on the page's own clock,
    showing the one alert fired before."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([session_cookie(users["viewer"], live_server.url)])
            page = context.new_page()
            page.clock.install()
            page.goto(f"{live_server.url}/?range=24h")
            expect(page.locator("#open-alerts")).to_have_text("1")
            yield context, page
        finally:
            browser.close()


def test_tiles_and_charts_refresh_every_minute_until_the_box_is_unticked(browser_env, live_server, users, service):  # noqa: F811
    fire(service)
    with overview_as_viewer(live_server, users) as (_context, page):
        page.wait_for_function("document.getElementById('errors-chart').dataset.chartReady === '1'")
        assert page.evaluate(CHART_SUM, "errors-chart") == 0

        fire(service)
        error_events(service, 4)
        page.clock.run_for(30_000)
        expect(page.locator("#open-alerts")).to_have_text("1")  # not yet: every 60 s
        page.clock.run_for(31_000)
        expect(page.locator("#open-alerts")).to_have_text("2")
        expect(page.locator("#errors-new")).to_have_text("1")
        page.wait_for_function(f"({CHART_SUM})('errors-chart') === 4")

        page.locator("#auto-refresh").uncheck()
        fire(service)
        page.clock.run_for(120_000)
        page.wait_for_timeout(500)  # a refresh would have had time to land
        expect(page.locator("#open-alerts")).to_have_text("2")


def test_a_refresh_after_the_session_ended_says_it_failed(browser_env, live_server, users, service):  # noqa: F811
    fire(service)
    with overview_as_viewer(live_server, users) as (context, page):
        context.clear_cookies()  # the session ends: the page now answers with the login form
        fire(service)
        page.clock.run_for(61_000)
        expect(page.locator("#refreshed-at")).to_have_text("refresh failed; retrying")
        expect(page.locator("#open-alerts")).to_have_text("1")  # the tiles are kept, not replaced
