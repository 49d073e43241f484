"""Trend chart labels are in TIME_ZONE (times are stored in UTC; only what people see changes)."""

from datetime import UTC, datetime

from codehealth.models import CodeScan


def test_trend_chart_labels_scans_in_the_viewers_zone(page_client, scanned, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    repository, last = scanned
    CodeScan.objects.exclude(pk=last.pk).update(committed_at=datetime(2026, 3, 1, tzinfo=UTC))
    CodeScan.objects.filter(pk=last.pk).update(committed_at=datetime(2026, 3, 2, 9, 15, tzinfo=UTC), commit="")
    data = page_client("viewer").get(f"/codehealth/{repository.pk}/chart/debt/").json()
    assert data["labels"][-1] == "2026-03-02 14:45"
