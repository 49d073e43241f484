"""End to end in a real headless Chromium: an admin builds a rule with the live preview, saves
it, and the saved rule fires on the same data; an admin creates an HTTP health check, fixing a
field the kind's validation refused."""

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertRule
from monitoring.labels import labels_canonical, labels_hash
from monitoring.models import HealthCheck, Metric, MetricSample
from tests.alerting.test_browser import ARGS, CHROMIUM, login
from tests.support import require

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def write_samples(service, start):
    rows = []
    for minute in range(0, 180, 2):
        for route, value in (("/pay", 450.0 + minute % 5), ("/cart", 40.0)):
            labels = {"route": route}
            rows.append(
                MetricSample(
                    service=service, name="checkout_latency_ms", labels=labels,
                    labels_hash=labels_hash(labels_canonical(labels)),
                    value=value, time=start - timedelta(minutes=minute, seconds=30),
                )
            )  # fmt: skip
    MetricSample.objects.bulk_create(rows)
    Metric.objects.create(name="checkout_latency_ms", unit="ms")


@pytest.fixture
def chromium(monkeypatch):
    require("chromium", Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed")
    # Playwright's sync API runs an event loop in this thread (see tests/alerting/test_browser.py).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_admin_builds_a_rule_with_the_live_preview_and_it_fires(live_server, users, service, chromium):
    start = timezone.now().replace(second=0, microsecond=0)
    write_samples(service, start)
    base = live_server.url
    page = chromium.new_context().new_page()
    login(page, base, "admin")
    page.goto(f"{base}/alerts/")
    page.click("#alert-rules")
    page.click("#new-rule")
    expect(page).to_have_url(f"{base}/alerts/rules/new/")
    expect(page.locator("#metric-names option[value=checkout_latency_ms]")).to_have_count(1)

    page.fill("#id_name", "Checkout /pay slow")
    page.fill("#id_threshold", "300")
    page.fill("#id_metric", "checkout_latency_ms")
    verdict = page.locator("#would-fire")
    expect(verdict).to_contain_text("Would fire now: yes")
    expect(verdict).to_contain_text("route=/pay")
    canvas = page.locator("#preview-chart")
    expect(canvas).to_have_attribute("data-chart-ready", "1")
    lines = page.evaluate("Chart.getChart(document.getElementById('preview-chart')).data.datasets.map(d => d.label)")
    assert "threshold 300" in lines and any("route=/pay" in line for line in lines)

    # Known label names and values come from the metric's series.
    expect(page.locator("#label-names option[value=route]")).to_have_count(1)
    page.click("#add-matcher")
    row = page.locator(".matcher-row").first
    row.locator(".matcher-label").fill("route")
    values_list = row.locator(".matcher-value").get_attribute("list")
    expect(page.locator(f"#{values_list} option[value='/cart']")).to_have_count(1)
    row.locator(".matcher-value").fill("/cart")
    expect(verdict).to_contain_text("Would fire now: no (40)")
    row.locator(".matcher-value").fill("/pay")
    expect(verdict).to_contain_text("Would fire now: yes")

    # A bad value is named on its field by the preview, before saving.
    page.fill("#id_window", "5")
    expect(page.locator('.field-errors[data-field="window"]')).to_contain_text("with units")
    expect(verdict).to_contain_text("Fix the fields")
    page.fill("#id_window", "10m")
    expect(verdict).to_contain_text("Would fire now: yes")
    expect(page.locator('.field-errors[data-field="window"] li')).to_have_count(0)

    page.click("#save-rule")
    expect(page).to_have_url(f"{base}/alerts/rules/")
    expect(page.locator("table")).to_contain_text("Checkout /pay slow")

    rule = AlertRule.objects.get(name="Checkout /pay slow")
    assert rule.matchers == [{"label": "route", "op": "=", "value": "/pay"}]
    assert (rule.window, rule.threshold, rule.enabled) == (timedelta(minutes=10), 300, True)
    with time_machine.travel(start, tick=False):
        report = rules_evaluate(now=start)
    assert report.fired == 1 and not report.errors
    alert = Alert.objects.get(rule=rule)
    assert alert.status == "firing" and alert.labels["route"] == "/pay" and alert.value > 300


def test_admin_creates_an_http_check_and_sees_field_errors(live_server, users, chromium):
    base = live_server.url
    page = chromium.new_context().new_page()
    login(page, base, "admin")
    page.goto(f"{base}/monitoring/health/")
    page.click("#new-check")
    page.fill("#id_name", "checkout api")
    page.select_option("#id_kind", "http")
    expect(page.locator("fieldset[data-kind=http]")).to_be_visible()
    expect(page.locator("fieldset[data-kind=tcp]")).to_be_hidden()
    page.fill("#id_http_url", "ftp://checkout.example/health")
    page.fill("#id_timeout_seconds", "600")
    page.click("#save-check")
    expect(page.locator('.field-errors[data-field="http_url"]')).to_contain_text("http(s) URL")
    expect(page.locator('.field-errors[data-field="timeout_seconds"]')).to_contain_text("between")
    expect(page.locator("fieldset[data-kind=http]")).to_be_visible()  # the chosen kind stays shown
    page.fill("#id_http_url", "https://checkout.example/health")
    page.fill("#id_timeout_seconds", "5")
    page.click("#save-check")
    check = HealthCheck.objects.get(name="checkout api")
    expect(page).to_have_url(f"{base}/monitoring/health/{check.pk}/")
    assert check.kind == "http" and check.config["url"] == "https://checkout.example/health"
