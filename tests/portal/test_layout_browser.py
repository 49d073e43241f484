"""In a real headless Chromium, at a 390 px phone and a 1366 px laptop: the alert list, an alert
page and the debt list (and the other pages people open on call) never scroll the page
sideways, with realistic long data (300-character summaries, long label values and paths).
Also: the favicon is served, and the scan progress box polls and reloads when a scan is done."""

import json
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from codehealth.models import CodeRepository, CodeScan, DebtItem
from monitoring.alerting.conditions import fingerprint
from monitoring.alerting.lifecycle import alert_fire
from monitoring.alerting.models import AlertEvent, Delivery, RuleState
from monitoring.models import CheckKind, HeartbeatPing
from tests.alerting.factories import AlertRuleFactory, ChannelFactory
from tests.monitoring.factories import HealthCheckFactory
from tests.support import require

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
WIDTHS = [(390, 844), (1366, 768)]
UNDO_RESPONSIVE = """.table-scroll { overflow: visible !important; } .hide-narrow { display: table-cell !important; }
td.long, td code, .facts td { overflow-wrap: normal !important; }"""
LONG_ROUTE = "/api/v1/checkout/sessions/" + "a1b2c3d4e5f6" * 8 + "/payment-intents/confirm"
LONG_PATH = "services/checkout/payments/providers/" + "very_long_module_name_" * 6 + "adapter.py"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_env(monkeypatch):
    require("chromium", Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed")
    # Playwright's sync API runs an event loop in this thread; set for this test only.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def session_cookie(user, base: str) -> dict:
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": base,
    }


def long_alerts(service) -> int:
    rule = AlertRuleFactory(name="Checkout p95 latency above the agreed service level objective for payments")
    channel = ChannelFactory(name="payments on-call webhook")
    ChannelFactory(name="broken slack", last_error="HTTP 404: " + "no_service " * 40, last_error_at=timezone.now())
    first = None
    for i in range(40):
        labels = {"service": service.slug, "route": f"{LONG_ROUTE}/{i}", "instance": f"checkout-{i}.prod.internal"}
        summary = f"Checkout p95 latency {812 + i}.123456 ms on {LONG_ROUTE}/{i} " + "and still climbing " * 10
        alert, _ = alert_fire(
            rule=rule, fingerprint=fingerprint(rule.pk, labels), labels=labels, value=812123.456 + i,
            summary=summary, description="Runbook: " + "https://runbooks.example.com/" + "x" * 150, service=service,
        )  # fmt: skip
        first = first or alert
    RuleState.objects.create(
        rule=rule, fingerprint=first.fingerprint, labels=first.labels, active_since=first.created_at
    )
    RuleState.objects.create(
        rule=AlertRuleFactory(for_duration=timedelta(hours=1)), fingerprint="p" * 40,
        labels={"route": LONG_ROUTE, "service": service.slug}, active_since=timezone.now(), value=0.000123456,
    )  # fmt: skip
    for _ in range(15):
        AlertEvent.objects.create(alert=first, kind="commented", message="looked at it: " + "a_long_token" * 20)
        Delivery.objects.create(alert=first, channel=channel, event="trigger", last_error="timeout " + "z" * 200)
    return first.pk


def long_debt() -> int:
    repository = CodeRepository.objects.create(
        name="checkout-service-monorepo-" + "x" * 40, path="/srv/" + "deep/" * 20
    )
    now = timezone.now()
    scan = CodeScan.objects.create(repository=repository, status="succeeded", queued_at=now, finished_at=now)
    DebtItem.objects.bulk_create(
        DebtItem(
            repository=repository,
            fingerprint=f"{i:040d}",
            kind="long_function",
            rule="",
            severity="high",
            path=f"{LONG_PATH[:-3]}_{i}.py",
            line=i + 1,
            symbol="PaymentProviderAdapter." + "handle_" * 12 + "callback",
            message="function is 412 lines long (limit 60); " + "split_me_please_" * 8,
            remediation_minutes=60 * i + 7,
            first_seen_scan=scan,
            last_seen_scan=scan,
            created_at=now,
            updated_at=now,
        )
        for i in range(50)
    )
    return repository.pk


def test_pages_fit_a_phone_and_a_laptop_without_sideways_scrolling(browser_env, live_server, users, service):
    alert_id = long_alerts(service)
    repository_id = long_debt()
    beat = HealthCheckFactory(service=service, name="nightly-export-" + "y" * 60, kind=CheckKind.HEARTBEAT)
    HeartbeatPing.objects.create(health_check=beat, kind="success", user_agent="Mozilla/5.0 " + "q" * 188)
    base = live_server.url
    cookie = session_cookie(users["operator"], base)
    pages = [
        "/alerts/",
        f"/alerts/{alert_id}/",
        f"/codehealth/{repository_id}/debt/",
        f"/codehealth/{repository_id}/",
        "/codehealth/",
        f"/monitoring/health/{beat.pk}/",
        "/alerts/silences/",
        "/",
    ]
    too_wide = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, height in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": height})
                context.add_cookies([cookie])
                page = context.new_page()
                for path in pages:
                    response = page.goto(base + path)
                    assert response.status == 200, path
                    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                    if sizes[0] > sizes[1]:
                        too_wide.append((width, path, sizes))
                page.goto(f"{base}/alerts/{alert_id}/")
                expect(page.locator("#resolve-warning")).to_be_visible()
                if width < 700:
                    # The check has teeth: without the responsive rules this data widens the page.
                    page.goto(f"{base}/codehealth/{repository_id}/debt/")
                    page.add_style_tag(content=UNDO_RESPONSIVE)
                    assert page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
                context.close()
        finally:
            browser.close()
    assert too_wide == []


def test_the_favicon_is_served(live_server):
    # urlopen follows the redirect; the URL is the live server's own http address.
    with urllib.request.urlopen(f"{live_server.url}/favicon.ico") as response:  # noqa: S310
        assert response.status == 200 and response.url.endswith("/static/portal/favicon.svg")
        assert response.read().startswith(b"<svg")


def test_scan_progress_polls_and_reloads_when_the_scan_is_done(browser_env, live_server, users, tmp_path):
    repository = CodeRepository.objects.create(name="sample", path=str(tmp_path))
    scan = CodeScan.objects.create(repository=repository, trigger="admin", queued_at=timezone.now())
    base = live_server.url
    cookie = session_cookie(users["operator"], base)
    answers = iter(
        [{"status": "running", "done": False, "seconds": 3.2}, {"status": "succeeded", "done": True, "seconds": 5.0}]
    )
    last = {"status": "succeeded", "done": True, "seconds": 5.0}

    def status(route):  # stands in for a worker finishing the scan
        body = {"id": scan.pk, **next(answers, last)}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([cookie])
            page = context.new_page()
            page.route(f"**/codehealth/{repository.pk}/scans/{scan.pk}/status/", status)
            loads = []
            page.on("load", lambda _: loads.append(1))
            page.goto(f"{base}/codehealth/{repository.pk}/")
            progress = page.locator("#scan-progress .progress-text")
            expect(progress).to_have_text(f"Scan #{scan.pk} is queued, waiting for a worker…")
            expect(progress).to_have_text(f"Scan #{scan.pk} is running (3 s so far)…", timeout=10_000)
            with page.expect_navigation(timeout=10_000):  # the next poll says done: the page reloads
                pass
            page.wait_for_load_state()
            assert len(loads) == 2
        finally:
            browser.close()
