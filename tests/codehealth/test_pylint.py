"""pylint runs as a real subprocess with JSON output and a time limit."""

import pytest

from codehealth.analyzer.pylint_runner import batches, default_score, pylint_run
from codehealth.models import CodeScan, DebtItem
from codehealth.scanning import scan_create, scan_run


@pytest.mark.slow
def test_pylint_gives_a_score_and_messages_as_findings(tree):
    root = tree({"mod.py": '"""Doc."""\n\nimport os\n\n\ndef f(x):\n    return x\n'})
    result = pylint_run(root, ["mod.py"], timeout=120)
    assert result.error == ""
    assert 0 < result.score < 10
    ids = {f.rule for f in result.findings}
    assert "W0611" in ids  # unused import
    unused = next(f for f in result.findings if f.rule == "W0611")
    assert (unused.kind, unused.path, unused.line, unused.severity) == ("pylint", "mod.py", 3, "medium")


@pytest.mark.slow
def test_pylint_timeout_is_reported_not_raised(tree):
    root = tree({f"m{i}.py": f"def f{i}(x):\n    return x\n" for i in range(30)})
    # The interpreter alone needs more than 1 ms (0.3 s was not always enough on an idle machine).
    result = pylint_run(root, sorted(p.name for p in root.iterdir()), timeout=0.001)
    assert result.score is None
    assert result.error == "pylint timed out after 0.001 s"
    batched = pylint_run(root, sorted(p.name for p in root.iterdir()), timeout=0.001, budget=10)
    assert (batched.score, batched.error) == (None, "pylint timed out after 0.001 s")  # one limit for all batches


@pytest.mark.slow
@pytest.mark.django_db
def test_scan_with_pylint_stores_score_and_tracks_pylint_items(repository, tree, settings):
    root = tree({"mod.py": '"""Doc."""\n\nimport os\n\n\ndef f(x):\n    """Doc."""\n    return x\n'})
    scan = scan_run(scan=scan_create(repository=repository, with_pylint=True), workers=1)
    assert scan.status == "succeeded" and scan.pylint_score is not None
    item = DebtItem.objects.get(kind="pylint", rule="W0611")
    # a scan without pylint says nothing about pylint items: they stay open
    plain = scan_run(scan=scan_create(repository=repository, with_pylint=False), workers=1)
    assert plain.fixed_debt == 0
    item.refresh_from_db()
    assert item.status == "open"
    # the import is removed and pylint runs again: fixed
    (root / "mod.py").write_text('"""Doc."""\n\n\ndef f(x):\n    """Doc."""\n    return x\n')
    scan_run(scan=scan_create(repository=repository, with_pylint=True), workers=1)
    item.refresh_from_db()
    assert item.status == "fixed"


@pytest.mark.slow
@pytest.mark.django_db
def test_scan_records_pylint_timeout_and_still_succeeds(repository, tree, settings):
    # A Python interpreter cannot even start in 1 ms, so pylint always outlasts this (0.3 s did
    # not: an idle machine linted the file in time).
    settings.CODEHEALTH_PYLINT_TIMEOUT = 0.001
    tree({"a.py": "x = 1\n"})
    scan = scan_run(scan=scan_create(repository=repository, with_pylint=True), workers=1)
    assert scan.status == CodeScan.Status.SUCCEEDED
    assert (scan.pylint_score, scan.pylint_error) == (None, "pylint timed out after 0.001 s")
    assert "pylint did not run: pylint condition not applied" in scan.gate_reasons


def test_paths_are_cut_into_command_lines_within_the_budget():
    paths = [f"pkg/mod{i}.py" for i in range(10)]  # 12 characters + a separator each
    runs = batches(paths, 40)
    assert runs == [paths[0:3], paths[3:6], paths[6:9], paths[9:]]
    assert batches(paths, 10_000) == [paths]
    assert batches(["a" * 50], 10) == [["a" * 50]]  # a name longer than the budget still runs


def test_batched_score_uses_pylints_default_formula():
    assert default_score({"error": 1, "warning": 2, "convention": 3, "info": 9}, 20) == pytest.approx(10 - 10 / 20 * 10)
    assert default_score({"fatal": 1}, 100) == 0.0
    assert default_score({"error": 50}, 10) == 0.0
    assert default_score({}, 0) == 10.0


@pytest.mark.slow
def test_a_tree_too_long_for_one_command_line_is_linted_in_batches_with_the_same_result(tree):
    # enough clean statements that the score is not clamped to 0, different per file (a shared
    # block would be a duplicate-code message, which only a run over all files can see)
    def filler(name):
        return "".join(f"{name}_{i} = {i}\n" for i in range(20))

    root = tree(
        {
            "a.py": f'"""Doc."""\n\nimport os\n\n{filler("A")}\n\ndef f(x):\n    return x\n',
            "b.py": f'"""Doc."""\n\n{filler("B")}\n\ndef g():\n    """Doc."""\n    return undefined_name\n',
            "c.py": f'"""Doc."""\n\n{filler("C")}',
        }
    )
    paths = ["a.py", "b.py", "c.py"]
    whole = pylint_run(root, paths, timeout=120)
    batched = pylint_run(root, paths, timeout=120, budget=5)  # one file per command line
    assert whole.error == batched.error == ""
    assert 0 < whole.score < 10
    assert batched.score == pytest.approx(whole.score, abs=0.01)
    assert sorted((f.path, f.line, f.rule) for f in batched.findings) == sorted(
        (f.path, f.line, f.rule) for f in whole.findings
    )
    assert {f.path for f in batched.findings} == {"a.py", "b.py"}
