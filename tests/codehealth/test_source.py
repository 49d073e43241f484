"""One file's report: markers, unparsable files, parameters, encodings."""

import pytest

from codehealth.analyzer import Thresholds, findings_for
from codehealth.analyzer.source import analyze_source

MARKERS = '''
# TODO: real comment
x = "# TODO: not a comment"
def f():
    """FIXME: in a docstring is not debt"""
    y = 1  # FIXME(bob): fix me later
    s = """
    HACK: inside a string
    """
    return y  # note: lowercase words are prose, not markers
# XXX
'''


def test_markers_come_from_comments_only():
    report = analyze_source("m.py", MARKERS.encode())
    found = [(f.kind, f.line, f.symbol, f.message) for f in findings_for(report, Thresholds())]
    assert found == [
        ("todo", 2, "", "TODO: real comment"),
        ("fixme", 6, "f", "FIXME: fix me later"),
        ("xxx", 11, "", "XXX"),
    ]


def test_marker_severity_and_minutes():
    report = analyze_source("m.py", b"# HACK: skip the cache\n# NOTE: see RFC 1234\n")
    findings = {f.kind: f for f in findings_for(report, Thresholds())}
    assert (findings["hack"].severity, findings["hack"].minutes) == ("medium", 30)
    assert (findings["note"].severity, findings["note"].minutes) == ("low", 5)


def test_unparsable_file_is_reported_not_raised():
    report = analyze_source("bad.py", b"def broken(:\n    pass\n")
    assert report.error.startswith("SyntaxError")
    assert report.raw is None and report.blocks == []
    assert findings_for(report, Thresholds()) == []


def test_undecodable_and_null_byte_files_are_reported():
    assert analyze_source("latin.py", b"x = '\xff'\n").error.startswith("UnicodeDecodeError")
    assert analyze_source("nul.py", b"x = 1\x00\n").error


def test_declared_encoding_and_crlf_are_read_like_open_does():
    data = "# -*- coding: latin-1 -*-\r\nname = 'caf\xe9'\r\n".encode("latin-1")
    report = analyze_source("enc.py", data)
    assert report.error == ""
    assert report.raw.loc == 2


def test_parameter_count_skips_self_but_not_for_staticmethods():
    source = b"""
class A:
    def m(self, a, b, *args, c, **kw):
        pass

    @staticmethod
    def s(a, b):
        pass

def free(a, /, b, *, c):
    pass
"""
    params = {b.qualname: b.parameters for b in analyze_source("p.py", source).blocks}
    assert params == {"A": 0, "A.m": 5, "A.s": 2, "free": 3}


def test_structural_debt_severity_grows_with_the_ratio():
    branches = "\n".join(f"    if a == {i}:\n        return {i}" for i in range(25))
    source = f"def big(a, b, c, d, e, f):\n{branches}\n    return -1\n".encode()
    findings = {f.kind: f for f in findings_for(analyze_source("big.py", source), Thresholds())}
    assert findings["complex_function"].severity == "high"  # 26 / 10
    assert findings["complex_function"].minutes == 10 + 5 * 16
    assert findings["too_many_parameters"].severity == "medium"  # 6 / 5
    assert findings["cognitive_complexity"].severity == "medium"  # 25 / 15
    critical = findings_for(analyze_source("big.py", source), Thresholds(complexity=8))
    assert {f.kind: f.severity for f in critical}["complex_function"] == "critical"  # 26 / 8


def test_thresholds_refuse_zero_which_would_divide_every_ratio():
    with pytest.raises(ValueError, match="'complexity' must be above 0"):
        Thresholds.from_mapping({"complexity": 0})
    with pytest.raises(ValueError, match="'function_length'"):
        Thresholds(function_length=-1)
    assert Thresholds(maintainability=0).maintainability == 0  # MI 0 as the floor: never flagged
