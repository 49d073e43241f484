"""Background entry points: the scan task, the due-scan sweep, schedules and setup."""

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import time_machine
from django.db import transaction
from django_q.signing import SignedPackage

from codehealth.models import CodeRepository, CodeScan, QualityGate
from codehealth.schedules import SCHEDULES
from codehealth.setup import codehealth_setup
from codehealth.tasks import scan_due, scan_queue, scan_repository

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_scan_task_runs_a_queued_scan_once(repository, tree):
    tree({"a.py": "x = 1\n"})
    scan = CodeScan.objects.create(repository=repository, queued_at=NOW)
    assert scan_repository(scan.pk) == "succeeded"
    assert scan_repository(scan.pk) == "skipped"  # safe to rerun
    assert scan_repository(999999) == "skipped"


def test_scan_task_records_failure_without_raising(repository):
    repository.path = "/does/not/exist"
    repository.save()
    scan = CodeScan.objects.create(repository=repository, queued_at=NOW)
    assert scan_repository(scan.pk) == "failed"


def test_sweep_queues_due_repositories_once(db, task_queue, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        due = CodeRepository.objects.create(name="due", path="/srv/a", scan_every_hours=6)
        CodeRepository.objects.create(name="manual", path="/srv/b")
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_due(now=NOW + timedelta(minutes=1)) == 1
        assert scan_due(now=NOW + timedelta(minutes=2)) == 0  # claimed: next run in 6 hours
    due.refresh_from_db()
    assert due.next_scan_at == NOW + timedelta(hours=6, minutes=1)
    assert CodeScan.objects.get().trigger == CodeScan.Trigger.SCHEDULE
    assert task_queue.queue_size() == 1
    # due again while the first is still queued: that one is this period's too (no second scan)
    assert scan_due(now=NOW + timedelta(hours=6, minutes=1)) == 0
    CodeScan.objects.update(status=CodeScan.Status.SUCCEEDED)
    assert scan_due(now=NOW + timedelta(hours=12, minutes=1)) == 1


def test_schedule_and_setup_hook(db):
    assert [s.name for s in SCHEDULES] == ["codehealth.scan_due"]
    SCHEDULES[0].fields()  # valid
    out = StringIO()
    codehealth_setup(stdout=out)
    codehealth_setup(stdout=out)
    assert QualityGate.objects.filter(name="default").count() == 1
    assert "created" in out.getvalue() and "unchanged" in out.getvalue()


def test_demo_setup_adds_the_portal_itself_and_queues_one_scan(db, task_queue, django_capture_on_commit_callbacks):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        codehealth_setup(stdout=out, demo=True)
        codehealth_setup(stdout=out, demo=True)
    repository = CodeRepository.objects.get(name="operations-portal")
    assert (Path(repository.path) / "manage.py").exists()
    assert CodeScan.objects.filter(repository=repository, status=CodeScan.Status.QUEUED).count() == 1
    assert task_queue.queue_size() == 1
    assert "created, scan queued" in out.getvalue() and "operations-portal: unchanged" in out.getvalue()


def test_demo_repository_is_not_queued_again_by_the_sweep(db, task_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        codehealth_setup(stdout=StringIO(), demo=True)
        now = CodeScan.objects.get().queued_at
        assert scan_due(now=now + timedelta(minutes=5)) == 0
        assert scan_due(now=now + timedelta(hours=24)) == 1
    assert task_queue.queue_size() == 2


def test_queued_scan_gets_its_own_task_time_limit(repository, task_queue, django_capture_on_commit_callbacks, settings):
    settings.CODEHEALTH_SCAN_TIMEOUT = 1234
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        scan, _ = scan_queue(repository=repository, trigger=CodeScan.Trigger.API)
    [(_, payload)] = task_queue.dequeue()
    task = SignedPackage.loads(payload)
    assert (task["func"], task["args"], task["timeout"]) == ("codehealth.tasks.scan_repository", (scan.pk,), 1234)
