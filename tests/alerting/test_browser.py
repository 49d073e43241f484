"""End to end in a real headless Chromium: an operator acknowledges a firing alert from its
page and sees the event in the timeline; a viewer sees no acknowledge button."""

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from monitoring.alerting.conditions import fingerprint
from monitoring.alerting.lifecycle import alert_fire
from monitoring.alerting.models import Alert
from tests.alerting.factories import AlertRuleFactory
from tests.support import require

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


def login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_operator_acknowledges_in_the_browser_and_viewer_cannot(live_server, users, service, monkeypatch):
    require("chromium", Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # synchronous and safe. Set for this test only: subprocesses started by others inherit os.environ.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    rule = AlertRuleFactory(name="Checkout latency")
    labels = {"service": service.slug}
    alert, _ = alert_fire(
        rule=rule, fingerprint=fingerprint(rule.pk, labels), labels=labels, value=812.0,
        summary="Checkout p95 latency 812 ms", service=service,
    )  # fmt: skip
    other_labels = {"service": service.slug, "route": "/pay"}
    still_firing, _ = alert_fire(
        rule=rule, fingerprint=fingerprint(rule.pk, other_labels), labels=other_labels, value=900.0,
        summary="Checkout /pay latency 900 ms", service=service,
    )  # fmt: skip
    base = live_server.url
    # No ORM calls inside the Playwright block: its event loop gives this thread another
    # connection context, whose connection would outlive the test.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context().new_page()
            login(page, base, "operator")
            page.click("nav >> text=Alerts")
            page.click("text=Checkout p95 latency 812 ms")
            expect(page).to_have_url(f"{base}/alerts/{alert.pk}/")
            expect(page.locator("#alert-status")).to_have_text("firing")
            page.click("#acknowledge")
            expect(page.locator("#alert-status")).to_have_text("acknowledged")
            row = page.locator("#timeline tr.event-acknowledged")
            expect(row).to_have_count(1)
            expect(row).to_contain_text("operator")
            expect(page.locator("#acknowledge")).to_have_count(0)

            viewer = browser.new_context().new_page()
            login(viewer, base, "viewer")
            viewer.goto(f"{base}/alerts/{still_firing.pk}/")
            expect(viewer.locator("#alert-status")).to_have_text("firing")
            expect(viewer.locator("#acknowledge")).to_have_count(0)
            expect(viewer.locator("text=Add a comment")).to_have_count(0)
        finally:
            browser.close()
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == users["operator"]
    assert Alert.objects.get(pk=still_firing.pk).status == "firing"
