"""Alerting in a half-hour zone: evaluation windows are UTC minutes, charts are labelled in
TIME_ZONE. CI runs the alerting tests once more with TIME_ZONE=Asia/Kolkata."""

from datetime import timedelta
from urllib.parse import urlencode

from tests.alerting.conftest import T0
from tests.alerting.test_builder import CONDITION


def test_rule_preview_points_are_utc_steps_labelled_in_the_viewers_zone(page_client, service, sample, clock, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    sample(service, "http_latency_ms", 250, T0 - timedelta(minutes=3))
    body = page_client("admin").get("/alerts/rules/preview.json?" + urlencode(CONDITION)).json()
    assert body["labels"][-1] == "14:30"  # 09:00 UTC
    assert body["labels"][-2] == "14:20"  # the 10-minute steps stay on UTC multiples of 10 minutes
    assert body["datasets"][0]["data"][-1] == 250
