"""A real headless Chromium loads a portal page; the web-vitals script reports its timings with
sendBeacon when the page is hidden and left, and they are stored under the page's route pattern."""

import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from monitoring.hosts import portal_service
from monitoring.metrics import REGISTRY
from monitoring.models import MetricSample
from monitoring.requests import REQUEST_DURATION
from tests.portal.test_layout_browser import ARGS, CHROMIUM, session_cookie
from tests.support import require

pytestmark = [pytest.mark.browser(vitals=True), pytest.mark.django_db(transaction=True)]
BEACON_ROUTE = '"/api/v1/vitals/"'  # as it appears in a series' canonical labels JSON


@pytest.fixture
def browser_env(monkeypatch):
    require("chromium", Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop here


def beacon_answered(timeout: float = 10.0, settle: float = 1.0) -> None:
    """Waits until the live server has answered the page's beacons (one as the tab is hidden, maybe
    one more on pagehide), without touching the database: on SQLite the live server shares this
    thread's connection, so no request may still be running when the test (or its teardown) uses
    the ORM. The request middleware records each answered request in the in-process registry after
    the view and its transaction finished; done when that count has not moved for `settle` s."""
    deadline = time.monotonic() + timeout
    seen, since = 0, time.monotonic()
    while time.monotonic() < deadline:
        answered = sum(
            1
            for series, _, _ in list(REGISTRY.observations)
            if series[0] == REQUEST_DURATION and BEACON_ROUTE in series[1]
        )
        if answered != seen:
            seen, since = answered, time.monotonic()
        elif seen and time.monotonic() - since >= settle:
            return
        time.sleep(0.05)
    raise AssertionError(f"the live server answered {seen} web-vitals beacons and did not settle")


def stored_vitals(timeout: float = 10.0) -> dict[str, list]:
    """The web_vitals samples, waiting for the beacon (sent by the browser as the page goes)."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, list] = {}
        for sample in MetricSample.objects.filter(name="web_vitals"):
            found.setdefault(sample.labels["vital"], []).append(
                (sample.labels["route"], sample.service_id, sample.value)
            )
        if {"TTFB", "FCP"} <= found.keys() or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_portal_page_reports_its_web_vitals_from_a_real_browser(browser_env, live_server, users):
    base = live_server.url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([session_cookie(users["viewer"], base)])
            page = context.new_page()
            beacons = []
            page.on("request", lambda r: beacons.append(r) if "/api/v1/vitals/" in r.url else None)
            assert page.goto(f"{base}/monitoring/health/").status == 200
            page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
            page.locator("main").click()  # an interaction, so INP has something to measure
            # The tab is hidden (what web-vitals waits for to report LCP, INP and CLS), then left:
            # the beacon goes on pagehide.
            page.evaluate(
                """() => {
                    Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
                    document.dispatchEvent(new Event("visibilitychange"));
                }"""
            )
            page.goto("about:blank")
        finally:
            browser.close()
    beacon_answered()
    found = stored_vitals()
    # LCP and CLS are final once the page is hidden; INP needs the click to count (not asserted).
    assert {"TTFB", "FCP", "LCP", "CLS"} <= found.keys(), (found, [b.url for b in beacons])
    service = portal_service().pk
    for vital, samples in found.items():
        for route, service_id, value in samples:
            assert route == "/monitoring/health/" and service_id == service, (vital, route)
            assert value >= 0
    ttfb = found["TTFB"][0][2]
    fcp = found["FCP"][0][2]
    assert 0 < ttfb <= fcp < 60_000  # milliseconds: the first paint comes after the first byte
    assert all(b.method == "POST" for b in beacons)
