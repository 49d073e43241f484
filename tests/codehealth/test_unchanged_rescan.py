"""A re-scan that finds every file as the latest scan left it (stat included) writes one row, its
own, and points at that scan (`same_as`): pages, API and trends show it with the same files,
functions, debt and figures as the scan it took over, and debt items count as seen by it."""

import os
import time

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from codehealth.models import CodeScan, DebtItem, ScanFile
from codehealth.scanning import scan_create, scan_run

pytestmark = pytest.mark.django_db
FILES = {
    "pkg/core.py": "# TODO: tidy\ndef f(a):\n    return a if a else 0\n",
    "pkg/big.py": "def g(a):\n" + "".join(f"    if a == {i}:\n        return {i}\n" for i in range(25)),
    "pkg/broken.py": "def (:\n",
    **{f"pkg/m{i}.py": f"# FIXME: item {i}\ndef h{i}(a, b):\n    return a or b\n" for i in range(6)},
}
FIGURES = (
    "files", "files_analyzed", "files_reused", "files_failed", "functions", "loc", "sloc", "comments",
    "average_complexity", "worst_complexity", "average_cognitive", "average_mi", "debt_count", "debt_minutes",
    "new_debt", "fixed_debt", "gate", "gate_reasons",
)  # fmt: skip


def run(repository, **kwargs) -> CodeScan:
    scan = scan_run(scan=scan_create(repository=repository, **kwargs), workers=1)
    assert scan.status == CodeScan.Status.SUCCEEDED, scan.error
    return scan


def age(root) -> None:
    """Files written just now are not trusted by their stat (see tree.RACY_SECONDS)."""
    past = time.time() - 3600
    for path in root.rglob("*.py"):
        os.utime(path, (past, past))


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in apps.get_app_config("codehealth").get_models()}


def debt_rows() -> list[tuple]:
    return list(DebtItem.objects.order_by("id").values_list("id", "status", "last_seen_scan_id", "updated_at"))


@pytest.fixture
def rescanned(repository, tree):
    """(repository, first scan, unchanged re-scan after a second one that compared everything)."""
    root = tree(FILES)
    age(root)
    run(repository)  # baseline
    (root / "pkg/m5.py").unlink()  # one item fixed: the second scan compares item by item
    first = run(repository)
    assert first.same_as_id is None and first.fixed_debt == 1
    return repository, first, run(repository)


def test_an_unchanged_rescan_writes_only_its_own_row_in_a_bounded_number_of_queries(
    repository, tree, django_assert_max_num_queries
):
    root = tree(FILES)
    age(root)
    first = run(repository)
    before, debt = row_counts(), debt_rows()
    with django_assert_max_num_queries(16):
        again = run(repository)
    assert again.same_as_id == first.pk
    assert row_counts() == {**before, "CodeScan": before["CodeScan"] + 1}
    assert debt_rows() == debt  # nothing per item rewritten
    for i in range(6, 80):  # ten times the files: the same statements
        (root / f"pkg/n{i}.py").write_text(f"# TODO: more {i}\ndef k{i}():\n    return {i}\n")
    age(root)
    run(repository)
    with CaptureQueriesContext(connection) as many:
        run(repository)
    with CaptureQueriesContext(connection) as few:
        run(repository)
    assert len(many) == len(few) <= 16


def test_the_rescan_has_the_figures_files_functions_and_debt_of_the_scan_it_took_over(rescanned, api_client):
    repository, first, again = rescanned
    assert again.same_as_id == first.pk
    expected = {f: getattr(first, f) for f in FIGURES}
    expected.update(files_analyzed=0, files_reused=first.files, new_debt=0, fixed_debt=0)
    assert {f: getattr(again, f) for f in FIGURES} == expected
    client = api_client("viewer")
    for endpoint in ("files", "functions"):
        ours = client.get(f"/api/v1/codehealth/{endpoint}/", {"scan": again.pk}).json()
        theirs = client.get(f"/api/v1/codehealth/{endpoint}/", {"scan": first.pk}).json()
        assert ours["results"] and ours == theirs, endpoint
    scans = {
        s["id"]: s for s in client.get("/api/v1/codehealth/scans/", {"repository": repository.pk}).json()["results"]
    }
    assert {f: scans[again.pk][f] for f in FIGURES[4:14]} == {f: scans[first.pk][f] for f in FIGURES[4:14]}
    debt = client.get("/api/v1/codehealth/debt/", {"repository": repository.pk, "status": "open"}).json()["results"]
    assert len(debt) == first.debt_count and {d["last_seen_scan"] for d in debt} == {again.pk}


def test_pages_and_trends_show_the_rescan_as_the_scan_it_took_over(rescanned, page_client):
    repository, first, again = rescanned
    client = page_client("viewer")
    overview = client.get(f"/codehealth/{repository.pk}/")
    assert overview.context["scan"] == again
    worst = [f.path for f in overview.context["worst_files"]]
    assert worst[0] == "pkg/big.py" and len(worst) == first.files
    assert [f.path for f in overview.context["broken_files"]] == ["pkg/broken.py"]
    assert overview.context["worst_functions"][0].qualname == "g"
    debt = client.get(f"/codehealth/{repository.pk}/debt/")
    assert len(debt.context["rows"]) == first.debt_count
    assert all(file_id for _, file_id in debt.context["rows"])  # each item links to its file
    trend = client.get(f"/codehealth/{repository.pk}/chart/debt/").json()
    assert [line["data"][-1] for line in trend["datasets"]] == [line["data"][-2] for line in trend["datasets"]]


def test_last_seen_follows_unchanged_rescans_until_a_scan_compares_again(rescanned, tree):
    repository, first, again = rescanned
    third = run(repository)
    assert third.same_as_id == first.pk  # a chain of unchanged scans points at its start
    fixed_here = DebtItem.objects.get(message="FIXME: item 5")
    assert fixed_here.status == "fixed"
    tree({"pkg/core.py": "def f(a):\n    return a if a else 0\n"})  # the TODO is done
    fourth = run(repository)
    assert fourth.same_as_id is None and fourth.fixed_debt == 1
    seen = dict(DebtItem.objects.with_last_seen().values_list("message", "last_seen"))
    assert seen["TODO: tidy"] == third.pk  # the last scan that saw it took first's results over
    assert seen["FIXME: item 0"] == fourth.pk
    assert seen["FIXME: item 5"] < first.pk  # gone before: not seen by the re-scans
    assert ScanFile.objects.filter(scan__in=[again, third]).count() == 0


def test_a_touched_file_with_the_same_content_records_its_new_stat_once(rescanned, tree):
    repository, _, _ = rescanned
    root = tree({})
    target = root / "pkg/m1.py"
    target.write_text(target.read_text())  # same bytes, new mtime and ctime
    age(root)
    touched = run(repository)
    assert touched.same_as_id is None and touched.files_analyzed == 0  # read, hashed, links with new stats
    assert ScanFile.objects.filter(scan=touched).count() == touched.files
    assert DebtItem.objects.with_last_seen().filter(status="open").exclude(last_seen=touched.pk).count() == 0
    after = run(repository)
    assert after.same_as_id == touched.pk


def test_a_pylint_item_is_seen_only_by_scans_that_ran_pylint(repository, tree, monkeypatch):
    from codehealth import scanning
    from codehealth.analyzer import Finding
    from codehealth.analyzer.pylint_runner import PylintResult

    age(tree(FILES))
    monkeypatch.setattr(
        scanning,
        "pylint_run",
        lambda root, paths, *, timeout: PylintResult(
            score=9.0, findings=[Finding("pylint", "low", "pkg/core.py", 1, "", "C0114 doc", 1, "p1", "C0114")]
        ),
    )
    linted = run(repository, with_pylint=True)
    plain = run(repository)
    assert plain.same_as_id == linted.pk
    seen = dict(DebtItem.objects.with_last_seen().values_list("kind", "last_seen"))
    assert seen["pylint"] == linted.pk and seen["todo"] == plain.pk
