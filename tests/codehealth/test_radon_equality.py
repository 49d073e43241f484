"""Cyclomatic complexity, MI, Halstead and raw counts must equal radon's own functions."""

from pathlib import Path

import django
import pytest
from radon.complexity import add_inner_blocks, cc_visit
from radon.metrics import h_visit, mi_visit
from radon.raw import analyze

from codehealth.analyzer import analyze_source
from codehealth.analyzer.rawcounts import RawCounts, comments_of, raw_counts, tokens_of
from codehealth.analyzer.rawscan import fast_raw_counts
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
