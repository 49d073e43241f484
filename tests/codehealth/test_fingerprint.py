"""Debt fingerprints: stable when code moves, distinct when it differs."""

from codehealth.analyzer import Thresholds, findings_for
from codehealth.analyzer.source import analyze_source

CODE = """
def handler(request):
    # TODO: validate the input
    if request.a:
        if request.b:
            if request.c:
                if request.d:
                    if request.e:
                        return 1
    return 0
"""


def fingerprints(source: str, path: str = "app/views.py") -> dict[str, tuple[str, int]]:
    report = analyze_source(path, source.encode())
    return {f.fingerprint: (f.kind, f.line) for f in findings_for(report, Thresholds())}


def test_fingerprint_is_stable_when_code_moves_down():
    before = fingerprints(CODE)
    after = fingerprints('"""Module doc."""\nimport os\n\n\nX = os.sep\n' + CODE)
    assert set(before) == set(after)
    assert {kind for kind, _ in before.values()} >= {"todo", "deep_nesting"}
    # ...while the lines did move
    assert all(after[fp][1] == line + 5 for fp, (_, line) in before.items())


def test_fingerprint_changes_with_path_symbol_or_text():
    base = set(fingerprints(CODE))
    assert base.isdisjoint(fingerprints(CODE, path="app/other.py"))
    renamed = fingerprints(CODE.replace("def handler", "def other_handler"))
    assert base.isdisjoint(renamed)
    reworded = fingerprints(CODE.replace("validate the input", "validate input"))
    assert len(base & set(reworded)) == len(base) - 1


def test_marker_text_is_normalized_for_whitespace_and_case():
    assert set(fingerprints(CODE)) == set(fingerprints(CODE.replace("validate the input", "Validate   THE input")))


def test_identical_markers_in_one_symbol_get_distinct_fingerprints():
    found = fingerprints("# TODO: x\n# TODO: x\n")
    assert len(found) == 2
