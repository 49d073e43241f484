"""An unchanged re-scan does little: files whose size, mtime, ctime and inode match the last scan
are not read again, and when every file version is the last live scan's, its totals and debt are
taken over instead of being compared item by item — with the same result as the full path."""

import os
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from codehealth import scanning
from codehealth.analyzer import Finding
from codehealth.analyzer import tree as tree_module
from codehealth.analyzer.pylint_runner import PylintResult
from codehealth.models import CodeScan, DebtItem, ScanFile
from codehealth.scanning import scan_create, scan_run

pytestmark = pytest.mark.django_db
FILES = {f"pkg/m{i}.py": f"# TODO: item {i}\ndef f{i}(a):\n    return a if a else {i}\n" for i in range(5)}
TOTALS = (
    "files", "files_analyzed", "files_reused", "files_failed", "functions", "loc", "sloc", "comments",
    "average_complexity", "worst_complexity", "average_cognitive", "average_mi", "debt_count", "debt_minutes",
    "new_debt", "fixed_debt", "gate", "gate_reasons",
)  # fmt: skip


def run(repository, **kwargs) -> CodeScan:
    scan = scan_run(scan=scan_create(repository=repository, **kwargs), workers=1)
    assert scan.status == CodeScan.Status.SUCCEEDED, scan.error
    return scan


def age(root, seconds: float = 3600) -> None:
    """Set every file's mtime `seconds` back: files written just now are not trusted by stat."""
    past = time.time() - seconds
    for path in root.rglob("*.py"):
        os.utime(path, (past, past))


@pytest.fixture
def opened(monkeypatch):
    """Relative names of the files the scan opens."""
    names = []
    real = open

    def spy(file, *args, **kwargs):
        names.append(os.path.basename(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(tree_module, "open", spy, raising=False)
    return names


def test_files_with_an_unchanged_stat_are_not_read_again(repository, tree, opened):
    age(tree(FILES))
    first = run(repository)
    assert len(opened) == 5
    opened.clear()
    again = run(repository)
    assert opened == []
    assert (again.files, again.files_reused, again.files_analyzed) == (5, 5, 0)
    assert [getattr(again, f) for f in TOTALS[3:13]] == [getattr(first, f) for f in TOTALS[3:13]]


def test_a_file_rewritten_with_its_size_and_mtime_restored_is_read_again(repository, tree, opened):
    root = tree(FILES)
    age(root)
    run(repository)
    target = root / "pkg/m2.py"
    before = target.stat()
    target.write_text(FILES["pkg/m2.py"].replace("TODO", "NOTE"))  # same length
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # ctime still moves: read again
    opened.clear()
    again = run(repository)
    assert opened == ["m2.py"]
    assert (again.files_analyzed, again.new_debt, again.fixed_debt) == (1, 1, 1)


def test_a_file_written_just_before_the_scan_is_read_and_hashed_again(repository, tree, opened):
    tree(FILES)  # mtimes of now: a write within the same clock tick would leave the stat unchanged
    run(repository)
    assert set(ScanFile.objects.values_list("stat", flat=True)) == {""}
    opened.clear()
    again = run(repository)
    assert len(opened) == 5 and again.files_reused == 5  # read, found unchanged by content hash


def test_an_unchanged_rescan_takes_over_what_a_full_comparison_would_find(repository, tree, monkeypatch):
    age(tree(FILES))
    first = run(repository)
    fast = run(repository)
    assert DebtItem.objects.with_last_seen().filter(status="open", last_seen=fast.pk).count() == 5
    monkeypatch.setattr(scanning, "_unchanged_since", lambda *args: False)  # the item-by-item path
    full = run(repository)
    assert [getattr(fast, f) for f in TOTALS] == [getattr(full, f) for f in TOTALS]
    assert (fast.files_reused, fast.new_debt, fast.debt_count) == (5, 0, 5)
    assert DebtItem.objects.filter(status="open", last_seen_scan=full).count() == 5
    assert first.gate == fast.gate == "passed"


def test_debt_deleted_by_hand_is_found_again_by_an_unchanged_rescan(repository, tree):
    age(tree(FILES))
    run(repository)
    DebtItem.objects.filter(message="TODO: item 3").delete()
    again = run(repository)
    assert again.new_debt == 1 and DebtItem.objects.filter(message="TODO: item 3", status="open").exists()


def test_an_unchanged_rescan_with_pylint_runs_pylint_on_every_file(repository, tree, monkeypatch):
    age(tree(FILES))
    run(repository)
    ran = []

    def fake_pylint(root, paths, *, timeout):
        ran.append(sorted(paths))
        return PylintResult(
            score=9.5, findings=[Finding("pylint", "low", "pkg/m1.py", 1, "", "C0114 doc", 1, "p1", "C0114")]
        )

    monkeypatch.setattr(scanning, "pylint_run", fake_pylint)
    again = run(repository, with_pylint=True)
    assert ran == [sorted(FILES)]
    assert (again.pylint_score, again.new_debt, again.files_reused) == (9.5, 1, 5)


def test_an_unchanged_rescan_takes_few_queries_however_many_files(repository, tree):
    root = tree(FILES)
    age(root)
    run(repository)
    with CaptureQueriesContext(connection) as few:
        run(repository)
    for i in range(5, 60):
        (root / f"pkg/m{i}.py").write_text(f"def g{i}(a):\n    return a\n")
    age(root)
    run(repository)
    with CaptureQueriesContext(connection) as many:
        run(repository)
    assert len(many) == len(few) <= 22, [q["sql"][:90] for q in many.captured_queries]
