"""Cyclomatic complexity, MI, Halstead and raw counts must equal radon's own functions."""

import ast
from pathlib import Path

import django
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from radon.complexity import add_inner_blocks, cc_visit
from radon.metrics import h_visit, mi_visit
from radon.raw import analyze

from codehealth.analyzer import rawcounts
from codehealth.analyzer.rawcounts import RawCounts, comments_of, raw_counts, tokens_of
from codehealth.analyzer.rawscan import fast_raw_counts
from codehealth.analyzer.source import analyze_source
from tests.codehealth.samples import BRANCHY, CONTINUATIONS

DJANGO = Path(django.__file__).parent
REAL_FILES = [
    DJANGO / "db/models/query.py",
    DJANGO / "utils/html.py",
    DJANGO / "template/base.py",
    DJANGO / "forms/fields.py",
    DJANGO / "contrib/admin/options.py",
    Path(__file__).resolve().parents[2] / "codehealth/analyzer/cognitive.py",
]


def samples():
    yield "branchy.py", BRANCHY
    yield "continuations.py", CONTINUATIONS
    for path in REAL_FILES:
        yield path.name, path.read_text()


def raw_tuple(report):
    raw = report.raw
    return (raw.loc, raw.lloc, raw.sloc, raw.comments, raw.multi, raw.blank, raw.single_comments)


def radon_blocks(source):
    return {(b.lineno, b.col_offset): b.complexity for b in add_inner_blocks(cc_visit(source))}


@pytest.mark.parametrize(("name", "source"), list(samples()), ids=[n for n, _ in samples()])
def test_metrics_equal_radon(name, source):
    report = analyze_source(name, source.encode())
    assert report.error == ""
    assert raw_tuple(report) == tuple(analyze(source))
    assert report.mi == pytest.approx(mi_visit(source, True), abs=1e-9)
    halstead = h_visit(source).total
    assert report.halstead_volume == pytest.approx(halstead.volume)
    assert report.halstead_effort == pytest.approx(halstead.effort)
    expected = radon_blocks(source)
    assert expected, "a sample without blocks proves nothing"
    ours = {b.line: b.complexity for b in report.blocks}
    for (line, _col), complexity in expected.items():
        assert ours[line] == complexity, f"{name}:{line}"


def test_block_ranks_follow_radon():
    report = analyze_source("b.py", BRANCHY.encode())
    ranks = {b.qualname: b.rank for b in report.blocks}
    assert ranks["simple"] == "A"
    assert {b.qualname for b in report.blocks} >= {
        "simple",
        "branchy",
        "Shape",
        "Shape.area",
        "Shape.grow",
        "Shape.Inner",
        "Shape.Inner.deep",
        "Shape.Inner.deep.closure",
        "fetcher",
        "matcher",
    }


def test_raw_counts_fall_back_to_radon_for_form_feeds():
    source = "x = 1\n\x0c\ndef f():\n    return 2\n"
    report = analyze_source("ff.py", source.encode())
    assert raw_tuple(report) == tuple(analyze(source))


@pytest.mark.parametrize(("name", "source"), list(samples()), ids=[n for n, _ in samples()])
def test_fast_scan_and_tokenizer_path_agree_with_radon(name, source):
    fast = fast_raw_counts(source)
    assert fast is not None, "valid code should not need the tokenizer path"
    counts, comments = fast
    tokens = tokens_of(source)
    assert counts == raw_counts(source, tokens)
    assert tuple(getattr(counts, f) for f in RawCounts.__dataclass_fields__) == tuple(analyze(source))
    assert comments == comments_of(tokens)


def test_fast_scan_declines_what_it_does_not_understand():
    assert fast_raw_counts('x = "unterminated\n') is None
    assert fast_raw_counts("x = (1,\n") is None
    assert fast_raw_counts("x = 1)\n") is None


def test_semicolons_use_radons_own_logical_line_rule():
    source = "if x: a = 1; b = 2\nc = {1: 2}; d = 3\n"
    counts, _ = fast_raw_counts(source)
    assert counts.lloc == analyze(source).lloc


def test_form_feed_goes_through_the_tokenizer_path():
    assert fast_raw_counts("x = 1\n\x0c\ny = 2\n") is None


# Physical lines that stress the grouping rules: brackets across lines, continuations, strings
# that look like comments, lone strings, semicolons, colons in slices/dicts/lambdas, blank tails.
FRAGMENTS = [
    "x = 1", "if x: y = 2", "if x:", "    pass", "    return {1: 2}", "def f(a, b=lambda: 0):", "    '''doc'''",
    '"""one line"""', '"""multi', 'line"""', "# comment", "    # indented comment", "", "   ", "x = (1,", "     2)",
    "y = [", "  # inside", "  3,", "]", "s = 'a \\", "b'", "z = 1; w = 2", "a = b[1:2]", "t = rb'\\x00' + f'{x!r}'",
    "u = 'it''s'", 'v = "#not comment"  # but this', "w = x \\", "    + 1", "class C: pass", "d = {'a': 1}  # x",
    "lambda x: x", "for i in r: print(i)", "while (n := 3): break", "else:", "try: pass", "except E: pass",
    "x = '''a", "'''", "print(''' ''' )", "k = {", "}", "@deco", "async def g(): await x", "\tif y: pass",
]  # fmt: skip
FRAGMENTS += [  # tabs, f-strings, escapes, quotes inside strings, trailing semicolons
    "\tif y: pass",
    """s = f"{d['k']}" 'x' "y\"""",
    "x = [1,  # c",
    "if x:  # c",
    "else:  # c",
    "d = '''it's # not'''",
    r"r = r'\''",
    r'b = b"\\"',
    '"""has "quotes" and # inside"""',
    "x = {'a': lambda: 1, 'b': c[1:2]}",
    "z = a[::2]; y = {**k}",
    "    x: int = 5",
    "def h(*, a: int = 1) -> None: ...",
    "m = '''",
    "#'''",
    r'n = """a\\',
    'b"""',
    "q = 'a' \\",
    "    'b'",
    "print(1); # c",
    "if a: b = 1;",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12),
    st.sampled_from(["\n", "", "\r\n"]),
)
def test_raw_counts_equal_radon_on_generated_sources(lines, ending):
    source = "\n".join(lines) + ("\n" if ending else "")
    try:
        ast.parse(source)
    except SyntaxError:
        assume(False)  # analyze_source reports these as errors and never counts them
    try:
        expected = tuple(analyze(source))
    except SyntaxError:  # radon gives up on a few valid sources: counted anyway, never an error
        report = analyze_source("gen.py", source.encode())
        assert report.error == "" and report.raw.loc == len(source.splitlines())
        return
    assert tuple(getattr(raw_counts(source, tokens_of(source)), f) for f in RawCounts.__dataclass_fields__) == (
        expected
    )
    fast = fast_raw_counts(source)
    if fast is not None:
        assert tuple(getattr(fast[0], f) for f in RawCounts.__dataclass_fields__) == expected
    report = analyze_source("gen.py", source.replace("\n", ending or "\n").encode())  # read like open() does
    assert raw_tuple(report) == expected


@pytest.mark.parametrize(
    "source",
    [
        "x = 1\n\x0c\ndef f():\n    return 2\n",  # form feed: line numbers differ
        "w = x \\\n   \nz = 1; w = 2\n",  # continuation into a blank line: radon's own grouping
    ],
    ids=["form-feed", "backslash-then-blank"],
)
def test_sources_only_radon_counts_right_go_to_radon(source, monkeypatch):
    calls = []

    def spy(text):
        calls.append(text)
        return analyze(text)

    monkeypatch.setattr(rawcounts, "analyze", spy)
    report = analyze_source("odd.py", source.encode())
    assert calls == [source]
    assert raw_tuple(report) == tuple(analyze(source))


def test_whitespace_only_last_line_counts_as_blank_on_the_tokenizer_path():
    source = "x = 1\n   "
    assert raw_counts(source, tokens_of(source)) == fast_raw_counts(source)[0]
    assert raw_counts(source, tokens_of(source)).blank == analyze(source).blank == 1
