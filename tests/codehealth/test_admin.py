"""Admin: every code health page loads for admins (and only for them); "scan now" queues."""

import pytest

from codehealth.models import CodeRepository, CodeScan, DebtItem, FileMetrics, FunctionMetrics

PAGES = ["coderepository", "codescan", "filemetrics", "functionmetrics", "debtitem", "qualitygate"]


@pytest.mark.parametrize("actor", ["anonymous", "viewer", "operator", "admin"])
@pytest.mark.parametrize("model", PAGES)
def test_admin_changelists(page_client, scanned, actor, model):
    response = page_client(actor).get(f"/admin/codehealth/{model}/")
    assert response.status_code == (200 if actor == "admin" else 302)


def test_admin_change_pages(page_client, scanned):
    repository, scan = scanned
    client = page_client("admin")
    for model, pk in [
        ("coderepository", repository.pk),
        ("codescan", scan.pk),
        ("filemetrics", FileMetrics.objects.first().pk),
        ("functionmetrics", FunctionMetrics.objects.first().pk),
        ("debtitem", DebtItem.objects.first().pk),
    ]:
        assert client.get(f"/admin/codehealth/{model}/{pk}/change/").status_code == 200, model


def test_admin_scan_now_action(page_client, scanned, task_queue, django_capture_on_commit_callbacks):
    repository, _ = scanned
    before = CodeScan.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client("admin").post(
            "/admin/codehealth/coderepository/", {"action": "scan_now", "_selected_action": [repository.pk]}
        )
    assert response.status_code == 302
    assert CodeScan.objects.count() == before + 1
    assert CodeScan.objects.order_by("-id").first().trigger == "admin"
    assert task_queue.queue_size() == 1


def test_admin_form_rejects_unknown_thresholds(page_client, db, tmp_path):
    response = page_client("admin").post(
        "/admin/codehealth/coderepository/add/",
        {
            "name": "x",
            "path": str(tmp_path),
            "excludes": "[]",
            "use_default_excludes": "on",
            "thresholds": '{"complexity": 12, "bogus": 1}',
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "unknown threshold" in response.content.decode()


def test_admin_form_rejects_a_zero_threshold_and_a_scan_interval_beyond_a_year(page_client, db, tmp_path):
    response = page_client("admin").post(
        "/admin/codehealth/coderepository/add/",
        {
            "name": "x",
            "path": str(tmp_path),
            "excludes": "[]",
            "use_default_excludes": "on",
            "thresholds": '{"nesting": 0}',
            "scan_every_hours": str(10**8),
        },
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "&#x27;nesting&#x27; must be above 0" in text or "'nesting' must be above 0" in text
    assert "At most 8784 hours" in text
    assert not CodeRepository.objects.exists()
