""" "Scan now" while a scan of the repository is queued or running answers with that scan instead
of queueing a second one that would fail ("another scan of this repository is running"); a scan
abandoned by its worker does not hold the repository."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from codehealth.models import CodeScan
from codehealth.scanning import scan_create
from codehealth.tasks import scan_due, scan_queue

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def in_progress(repository, status, *, at=NOW, started=None, trigger=CodeScan.Trigger.API) -> CodeScan:
    """A scan queued 5 minutes before `at`; running: started at `started` (default `at`)."""
    scan = scan_create(repository=repository, trigger=trigger, now=at - timedelta(minutes=5))
    if status == "running":
        CodeScan.objects.filter(pk=scan.pk).update(status=status, started_at=started or at)
    scan.refresh_from_db()
    return scan


@pytest.mark.parametrize("status", ["queued", "running"])
def test_queueing_returns_the_scan_in_progress(repository, task_queue, django_capture_on_commit_callbacks, status):
    current = in_progress(repository, status)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        scan, created = scan_queue(repository=repository, trigger=CodeScan.Trigger.API, now=NOW)
    assert (scan.pk, created) == (current.pk, False)
    assert CodeScan.objects.count() == 1 and task_queue.queue_size() == 0


def test_queueing_twice_queues_one_scan(repository, task_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            first, created_first = scan_queue(repository=repository, trigger=CodeScan.Trigger.API, now=NOW)
        with transaction.atomic():
            second, created_second = scan_queue(repository=repository, trigger=CodeScan.Trigger.ADMIN, now=NOW)
    assert (created_first, created_second, second.pk) == (True, False, first.pk)
    assert task_queue.queue_size() == 1


def test_an_abandoned_scan_is_failed_and_a_new_one_queued(repository, task_queue, django_capture_on_commit_callbacks):
    dead = in_progress(repository, "running", started=NOW - timedelta(hours=7))
    lost = in_progress(repository, "queued")
    CodeScan.objects.filter(pk=lost.pk).update(queued_at=NOW - timedelta(hours=7))  # its task never ran
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        scan, created = scan_queue(repository=repository, trigger=CodeScan.Trigger.API, now=NOW)
    assert created and scan.pk not in (dead.pk, lost.pk)
    dead.refresh_from_db()
    lost.refresh_from_db()
    assert (dead.status, dead.error) == ("failed", "abandoned: no result after 6 hours")
    assert (lost.status, lost.error) == ("failed", "abandoned: not started within 6 hours")
    assert task_queue.queue_size() == 1


@pytest.mark.parametrize("status", ["queued", "running"])
def test_api_scan_now_returns_the_scan_in_progress(
    api_client, scanned, task_queue, django_capture_on_commit_callbacks, status
):
    repository, _ = scanned
    current = in_progress(repository, status, at=timezone.now())  # the web asks at the real time
    before = CodeScan.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client("operator").post(f"/api/v1/codehealth/repositories/{repository.pk}/scan/")
    assert response.status_code == 202, response.content
    assert (response.json()["id"], response.json()["status"]) == (current.pk, status)
    assert CodeScan.objects.count() == before and task_queue.queue_size() == 0


@pytest.mark.parametrize("status", ["queued", "running"])
def test_page_scan_now_shows_the_scan_in_progress(page_client, scanned, task_queue, status):
    repository, _ = scanned
    current = in_progress(repository, status, at=timezone.now())  # the web asks at the real time
    before = CodeScan.objects.count()
    response = page_client("operator").post(f"/codehealth/{repository.pk}/scan/", follow=True)
    assert response.redirect_chain == [(f"/codehealth/{repository.pk}/", 302)]
    html = response.content.decode()
    assert f"Scan #{current.pk} is already {status}" in html
    assert f'data-scan-status-url="/codehealth/{repository.pk}/scans/{current.pk}/status/"' in html
    assert CodeScan.objects.count() == before and task_queue.queue_size() == 0


def test_admin_scan_now_queues_only_repositories_without_a_scan_in_progress(
    page_client, scanned, tmp_path, task_queue, django_capture_on_commit_callbacks
):
    busy, _ = scanned
    in_progress(busy, "running", at=timezone.now())
    idle = type(busy).objects.create(name="idle", path=str(tmp_path))
    before = CodeScan.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client("admin").post(
            "/admin/codehealth/coderepository/",
            {"action": "scan_now", "_selected_action": [busy.pk, idle.pk]},
            follow=True,
        )
    assert "1 scan(s) queued, 1 already queued or running." in response.content.decode()
    assert CodeScan.objects.count() == before + 1 and task_queue.queue_size() == 1


def test_the_sweep_does_not_queue_beside_a_scan_in_progress(
    db, repository, task_queue, django_capture_on_commit_callbacks
):
    type(repository).objects.filter(pk=repository.pk).update(scan_every_hours=6, next_scan_at=NOW)
    current = in_progress(repository, "queued", trigger=CodeScan.Trigger.SCHEDULE)
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_due(now=NOW + timedelta(minutes=1)) == 0
    assert list(CodeScan.objects.values_list("id", flat=True)) == [current.pk]
    assert task_queue.queue_size() == 0
