"""The framework-free helpers: matchers, comparisons, fingerprints, annotation templates."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.alerting.conditions import (
    MatcherError,
    condition_holds,
    fingerprint,
    matches_all,
    parse_matchers,
    render_annotation,
)


def test_matchers_equal_not_equal_and_regex():
    m = parse_matchers(
        [
            {"label": "service", "op": "=", "value": "checkout"},
            {"label": "route", "op": "=~", "value": "/api/.*"},
            {"label": "env", "op": "!=", "value": "dev"},
            {"label": "mount", "op": "!~", "value": "/(proc|sys).*"},
        ]
    )
    assert matches_all(m, {"service": "checkout", "route": "/api/x", "mount": "/"})
    assert not matches_all(m, {"service": "checkout", "route": "/home", "mount": "/"})
    assert not matches_all(m, {"service": "checkout", "route": "/api/x", "env": "dev"})
    assert not matches_all(m, {"service": "checkout", "route": "/api/x", "mount": "/proc"})


def test_regex_is_anchored():
    (m,) = parse_matchers([{"label": "r", "op": "=~", "value": "api"}])
    assert not m.matches({"r": "/api/"}) and m.matches({"r": "api"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"op": "=", "value": "x"}], "label must be"),
        ([{"label": "a", "op": "~", "value": "x"}], "op must be"),
        ([{"label": "a", "op": "=~", "value": "("}], "invalid regular expression"),
        ([{"label": "a", "value": 3}], "value must be a string"),
        (["a=b"], "expected an object"),
    ],
)
def test_bad_matchers_are_explained(raw, message):
    with pytest.raises(MatcherError, match=message):
        parse_matchers(raw)


@pytest.mark.parametrize(
    ("value", "op", "threshold", "holds"),
    [
        (91, "gt", 90, True),
        (90, "gt", 90, False),
        (90, "gte", 90, True),
        (1, "lt", 2, True),
        (2, "lte", 2, True),
        (3, "eq", 3, True),
        (None, "gt", 0, False),
        (math.nan, "lt", 1, False),
    ],
)
def test_condition_holds(value, op, threshold, holds):
    assert condition_holds(value, op, threshold) is holds


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=5), max_size=5))
def test_fingerprint_ignores_label_order(labels):
    assert fingerprint(1, dict(reversed(list(labels.items())))) == fingerprint(1, labels)
    assert fingerprint(1, labels) != fingerprint(2, labels)


def test_annotation_templates():
    text = render_annotation(
        "{rule}: {value:.1f}% on {mount} > {threshold} {unknown}",
        value=93.456, threshold=90, rule="disk", labels={"mount": "/var"},
    )  # fmt: skip
    assert text == "disk: 93.5% on /var > 90 {unknown}"
    assert render_annotation("{value:.1f}", value=None, threshold=1, rule="r", labels={}) == "None"
    assert render_annotation("broken {", value=1, threshold=1, rule="r", labels={}) == "broken {"


def test_annotation_format_widths_are_bounded():
    huge = render_annotation("{value:>999999999}|{value:.999999f}", value=1.5, threshold=1, rule="r", labels={})
    assert huge == "1.5|1.5"
    assert render_annotation("{value:>6.2f}", value=1.5, threshold=1, rule="r", labels={}) == "  1.50"
