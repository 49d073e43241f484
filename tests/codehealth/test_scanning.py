"""Scans end to end through the service: storage, reuse, debt tracking, hand-off to maintenance."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from codehealth import scanning
from codehealth.models import CodeScan, DebtItem, FileMetrics, FunctionMetrics
from codehealth.scanning import scan_create, scan_run
from maintenance.models import MaintenanceTask
from tests.codehealth.conftest import write_tree

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEEP = """
def deep(a, b, c, d, e):
    if a:
        if b:
            if c:
                if d:
                    if e:
                        if a + b:
                            if c + d:
                                if d + e:
                                    return 1
    return 0
"""


def run(repository, **kwargs) -> CodeScan:
    scan = scan_run(scan=scan_create(repository=repository), workers=1, **kwargs)
    assert scan.status == CodeScan.Status.SUCCEEDED, scan.error
    return scan


@pytest.mark.django_db
def test_first_scan_stores_files_functions_and_debt(repository, tree):
    tree(
        {
            "app/core.py": "# TODO: tidy\ndef f(a):\n    return a if a else 0\n",
            "app/deep.py": DEEP,
            "app/broken.py": "def (:\n",
        }
    )
    scan = run(repository)
    assert (scan.files, scan.files_analyzed, scan.files_reused, scan.files_failed) == (3, 3, 0, 1)
    broken = FileMetrics.objects.get(path="app/broken.py")
    assert broken.error.startswith("SyntaxError")
    assert FunctionMetrics.objects.filter(file__path="app/deep.py", qualname="deep", cognitive__gt=0).exists()
    kinds = set(DebtItem.objects.values_list("kind", flat=True))
    assert {"todo", "deep_nesting", "cognitive_complexity"} <= kinds
    assert scan.new_debt == scan.debt_count == DebtItem.objects.count()
    assert scan.gate_reasons[1] == "baseline scan: new-debt condition not applied"


@pytest.mark.django_db
def test_new_still_open_and_fixed_across_two_scans_of_a_changed_tree(repository, tree):
    root = tree({"a.py": "# TODO: one\n# FIXME: two\nx = 1\n", "b.py": "# XXX: goes away with the file\n"})
    first = run(repository)
    items = {i.message: i for i in DebtItem.objects.all()}
    assert set(items) == {"TODO: one", "FIXME: two", "XXX: goes away with the file"}

    # a.py: code moves down, FIXME is fixed, a HACK is new; b.py is deleted
    (root / "a.py").write_text('"""Doc."""\nimport os\n\n# TODO: one\n# HACK: three\nx = os.sep\n')
    (root / "b.py").unlink()
    second = run(repository)

    after = {i.message: i for i in DebtItem.objects.all()}
    assert (second.new_debt, second.fixed_debt) == (1, 2)
    todo = after["TODO: one"]
    assert (todo.status, todo.line, todo.first_seen_scan_id, todo.last_seen_scan_id) == ("open", 4, first.pk, second.pk)
    assert todo.pk == items["TODO: one"].pk
    for gone in ("FIXME: two", "XXX: goes away with the file"):
        assert (after[gone].status, after[gone].fixed_in_scan_id) == ("fixed", second.pk)
    hack = after["HACK: three"]
    assert (hack.status, hack.first_seen_scan_id) == ("open", second.pk)

    # the FIXME comes back: the same item reopens, counted as new
    (root / "a.py").write_text("# TODO: one\n# FIXME: two\nx = 1\n")
    third = run(repository)
    fixme = DebtItem.objects.get(pk=items["FIXME: two"].pk)
    assert (fixme.status, fixme.fixed_in_scan_id, fixme.first_seen_scan_id) == ("open", None, first.pk)
    assert third.new_debt == 1


@pytest.mark.django_db
def test_unchanged_files_are_reused_not_reanalysed(repository, tree, monkeypatch):
    root = tree({f"m{i}.py": f"# TODO: item {i}\ndef f{i}(a):\n    return a\n" for i in range(6)})
    first = run(repository)
    analysed = []
    real = scanning.analyze_sources

    def spy(files, limits, **kwargs):
        analysed.extend(f.path for f in files)
        return real(files, limits, **kwargs)

    monkeypatch.setattr(scanning, "analyze_sources", spy)
    (root / "m3.py").write_text("def f3(a):\n    return a + 1\n")
    second = run(repository)
    assert analysed == ["m3.py"]
    assert (second.files, second.files_analyzed, second.files_reused) == (6, 1, 5)
    assert FileMetrics.objects.count() == 7  # six versions, plus the new m3.py
    assert second.debt_count == 5 and second.fixed_debt == 1
    assert second.sloc == first.sloc  # totals come from reused versions too

    # a reverted file is found by hash even though the previous scan did not have it
    analysed.clear()
    (root / "m3.py").write_text("# TODO: item 3\ndef f3(a):\n    return a\n")
    third = run(repository)
    assert analysed == [] and third.files_reused == 6
    assert DebtItem.objects.get(message="TODO: item 3").status == "open"


@pytest.mark.django_db
def test_changing_thresholds_invalidates_reuse(repository, tree):
    tree({"a.py": DEEP})
    run(repository)
    repository.thresholds = {"nesting": 10, "cognitive": 100}
    repository.save()
    second = run(repository)
    assert second.files_analyzed == 1
    assert not DebtItem.objects.filter(kind="deep_nesting", status="open").exists()


@pytest.mark.django_db
def test_query_count_does_not_grow_with_files(repository, tree):
    root = tree({f"small{i}.py": f"# TODO: {i}\ndef f(a):\n    return a\n" for i in range(3)})
    with CaptureQueriesContext(connection) as few:
        run(repository)
    for i in range(3, 40):
        (root / f"small{i}.py").write_text(f"# FIXME: {i}\ndef f(a, b):\n    return a if b else a\n")
    with CaptureQueriesContext(connection) as many:
        run(repository)
    assert len(many) <= len(few) + 2, [q["sql"][:80] for q in many.captured_queries]


@pytest.mark.django_db
def test_high_debt_becomes_a_refactor_task_and_fixing_it_closes_the_task(repository, tree, settings):
    settings.CODEHEALTH_TASK_LEAD_DAYS_CRITICAL = 3
    settings.CODEHEALTH_TASK_LEAD_DAYS_HIGH = 20
    repository.thresholds = {"nesting": 2}
    repository.save()
    root = tree({"deep.py": DEEP + "# TODO: low severity, no task\n"})
    with time_machine.travel(NOW, tick=False):
        run(repository)
    critical = DebtItem.objects.get(kind="deep_nesting")
    assert critical.severity == "critical"  # 8 levels / 2
    task = MaintenanceTask.objects.get(source="codehealth", source_ref=critical.task_ref)
    assert (task.kind, task.status, task.priority) == ("refactor", "open", "urgent")
    assert task.due_at == NOW + timedelta(days=3)
    high = DebtItem.objects.get(kind="cognitive_complexity")
    assert high.severity == "high"  # 36 / 15
    assert MaintenanceTask.objects.get(source_ref=high.task_ref).due_at == NOW + timedelta(days=20)
    assert MaintenanceTask.objects.count() == DebtItem.objects.filter(severity__in=["high", "critical"]).count()

    run(repository)  # nothing changed: still one task
    assert MaintenanceTask.objects.filter(source="codehealth").count() == MaintenanceTask.objects.count()

    (root / "deep.py").write_text("def deep(a):\n    return a\n")
    run(repository)
    task.refresh_from_db()
    assert (task.status, task.closed_at is not None) == ("done", True)


@pytest.mark.django_db
def test_debt_brought_below_high_closes_its_task_and_reopens_it_when_it_climbs_back(repository, tree):
    repository.thresholds = {"parameters": 2, "cognitive": 100, "complexity": 100}
    repository.save()
    root = tree({"p.py": "def f(a, b, c, d, e, g):\n    return a\n"})  # 6 / 2: critical
    run(repository)
    item = DebtItem.objects.get(kind="too_many_parameters")
    task = MaintenanceTask.objects.get(source_ref=item.task_ref)
    assert (item.severity, task.status, task.priority) == ("critical", "open", "urgent")

    (root / "p.py").write_text("def f(a, b, c):\n    return a\n")  # 3 / 2: medium, still debt
    run(repository)
    item.refresh_from_db()
    task.refresh_from_db()
    assert (item.status, item.severity) == ("open", "medium")
    assert task.status == "done"

    (root / "p.py").write_text("def f(a, b, c, d, e):\n    return a\n")  # 5 / 2: high again
    run(repository)
    task.refresh_from_db()
    assert (task.status, task.priority) == ("open", "high")
    assert MaintenanceTask.objects.count() == 1


@pytest.mark.django_db
def test_missing_directory_fails_the_scan_with_a_message(repository):
    repository.path = "/nonexistent/path"
    repository.save()
    scan = scan_run(scan=scan_create(repository=repository), workers=1)
    assert scan.status == CodeScan.Status.FAILED
    assert "is not a directory" in scan.error


@pytest.mark.django_db
def test_a_second_concurrent_scan_is_refused(repository, tree):
    tree({"a.py": "x = 1\n"})
    running = scan_create(repository=repository)
    CodeScan.objects.filter(pk=running.pk).update(status=CodeScan.Status.RUNNING)
    scan = scan_run(scan=scan_create(repository=repository), workers=1)
    assert (scan.status, scan.error) == ("failed", "another scan of this repository is running")


def test_write_tree_helper_dedents(tmp_path):
    root = write_tree(tmp_path, {"x.py": "    a = 1\n"})
    assert (root / "x.py").read_text() == "a = 1\n"


@pytest.mark.django_db
def test_a_scan_abandoned_hours_ago_does_not_block_the_repository(repository, tree):
    tree({"a.py": "x = 1\n"})
    stale = scan_create(repository=repository)
    CodeScan.objects.filter(pk=stale.pk).update(status=CodeScan.Status.RUNNING, started_at=NOW - timedelta(hours=7))
    scan = scan_run(scan=scan_create(repository=repository), workers=1, now=NOW)
    assert scan.status == CodeScan.Status.SUCCEEDED
    stale.refresh_from_db()
    assert (stale.status, stale.error) == ("failed", "abandoned: no result after 6 hours")


@pytest.mark.django_db
def test_a_queued_scan_past_its_task_time_limit_does_not_block_the_repository(repository, tree, settings):
    settings.CODEHEALTH_SCAN_TIMEOUT = 1800
    tree({"a.py": "x = 1\n"})

    def running(trigger, minutes_ago):
        scan = scan_create(repository=repository, trigger=trigger)
        started = NOW - timedelta(minutes=minutes_ago)
        CodeScan.objects.filter(pk=scan.pk).update(status=CodeScan.Status.RUNNING, started_at=started)
        return scan

    killed = running(CodeScan.Trigger.SCHEDULE, 32)
    scan = scan_run(scan=scan_create(repository=repository), workers=1, now=NOW)
    assert scan.status == CodeScan.Status.SUCCEEDED
    killed.refresh_from_db()
    assert (killed.status, killed.error) == ("failed", "abandoned: its task ran out of time")
    # a command line scan has no task limit: 32 minutes in, it is still working
    long_cli = running(CodeScan.Trigger.COMMAND, 32)
    blocked = scan_run(scan=scan_create(repository=repository), workers=1, now=NOW)
    assert (blocked.status, blocked.error) == ("failed", "another scan of this repository is running")
    long_cli.refresh_from_db()
    assert long_cli.status == CodeScan.Status.RUNNING
