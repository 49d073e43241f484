"""pylint runs as a real subprocess with JSON output and a time limit."""

import pytest

from codehealth.analyzer.pylint_runner import pylint_run
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
    result = pylint_run(root, sorted(p.name for p in root.iterdir()), timeout=0.3)  # the interpreter alone needs more
    assert result.score is None
    assert result.error == "pylint timed out after 0.3 s"


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
    settings.CODEHEALTH_PYLINT_TIMEOUT = 0.3
    tree({"a.py": "x = 1\n"})
    scan = scan_run(scan=scan_create(repository=repository, with_pylint=True), workers=1)
    assert scan.status == CodeScan.Status.SUCCEEDED
    assert (scan.pylint_score, scan.pylint_error) == (None, "pylint timed out after 0.3 s")
    assert "pylint did not run: pylint condition not applied" in scan.gate_reasons
