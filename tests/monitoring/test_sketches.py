import re
from importlib.metadata import version

import numpy as np
import pytest
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import DenseStore
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring import sketches
from monitoring.sketches import (
    sketch_dumps,
    sketch_from_values,
    sketch_loads,
    sketch_merge_all,
    sketch_merge_packed,
    sketch_new,
    sketch_quantile,
    sketch_quantiles_grouped,
    sketch_quantiles_packed,
)
from tests.support import ROOT

QS = (0.01, 0.25, 0.5, 0.9, 0.95, 0.99)


def one_by_one(values):
    sketch = sketch_new()
    for v in values:
        sketch.add(v)
    return sketch


def same(a, b):
    assert a.count == b.count
    assert a.sum == pytest.approx(b.sum)
    for q in QS:
        assert sketch_quantile(a, q) == pytest.approx(sketch_quantile(b, q), rel=0.021)


@pytest.mark.parametrize("size", [0, 1, 5, 63, 64, 1000])
def test_from_values_matches_adding_one_by_one(size):
    values = np.random.default_rng(size).normal(5, 3, size=size).tolist() + [0.0] * (size // 10)
    built, reference = sketch_from_values(values), one_by_one(values)
    if values:
        same(built, reference)
    else:
        assert built.count == 0


def test_round_trip_keeps_everything_including_negatives_and_zeros():
    values = [-5.5, -1.0, 0.0, 0.0, 1e-9, 2.0, 3.5, 1e6]
    sketch = sketch_from_values(values)
    back = sketch_loads(sketch_dumps(sketch))
    assert (back.count, back.sum, back._min, back._max, back._zero_count) == (8, sum(values), -5.5, 1e6, 2)
    same(back, sketch)
    empty = sketch_loads(sketch_dumps(sketch_new()))
    assert empty.count == 0 and sketch_quantile(empty, 0.5) is None


def test_unknown_format_version_is_refused():
    data = bytearray(sketch_dumps(sketch_from_values([1.0])))
    data[0] = 99
    with pytest.raises(ValueError, match="version"):
        sketch_loads(bytes(data))


def test_merging_equals_sketching_everything_at_once():
    rng = np.random.default_rng(1)
    parts = [rng.lognormal(0, 1, size=n).tolist() for n in (3, 70, 500, 0, 1)]
    everything = sketch_from_values([v for part in parts for v in part])
    sketches = [sketch_from_values(part) for part in parts]
    same(sketch_merge_all(sketches), everything)
    same(sketch_merge_packed([sketch_dumps(s) for s in sketches]), everything)
    same(sketch_merge_packed([sketch_dumps(s) for s in sketches[:2]], sketches[2:]), everything)
    merged = sketch_merge_all(sketches)
    merged.add(1000.0)  # still an ordinary, growable DDSketch after our bin surgery
    assert merged.count == everything.count + 1 and sketch_quantile(merged, 1.0) == pytest.approx(1000, rel=0.01)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=200))
def test_quantiles_stay_within_one_percent_of_the_exact_order_statistic(values):
    sketch = sketch_loads(sketch_dumps(sketch_from_values(values)))
    ordered = sorted(values)
    for q in (0.0, 0.5, 0.95, 1.0):
        exact = ordered[int(q * (len(ordered) - 1))]  # DDSketch's rank definition (lower)
        assert sketch_quantile(sketch, q) == pytest.approx(exact, rel=0.0101, abs=1e-300)


def test_ddsketch_layout_is_the_one_monitoring_sketches_was_written_for():
    """monitoring/sketches.py reads and writes ddsketch's private fields (for speed). A release
    that renames or retypes them must fail here, loudly, not return wrong quantiles: then check
    the module against the new release and widen the pin in pyproject.toml."""
    assert sketches.DDSKETCH_TESTED.startswith(version("ddsketch").rsplit(".", 1)[0] + "."), version("ddsketch")
    sketch = sketches.sketch_new()
    assert {"_mapping", "_store", "_negative_store", "_zero_count", "_count", "_sum", "_min", "_max"} <= vars(
        sketch
    ).keys()
    assert type(sketch._store) is type(sketch._negative_store) is DenseStore
    assert {"bins", "offset", "min_key", "max_key", "count"} <= vars(sketch._store).keys()
    assert type(sketch._mapping) is LogarithmicMapping
    values = np.array([1e-6, 0.5, 1.0, 3.0, 250.0, 1e9])
    assert sketches.sketch_keys(values).tolist() == [sketch._mapping.key(v) for v in values]
    assert sketch._mapping.min_possible == sketches.MIN_POSITIVE


def test_only_the_sketches_module_touches_ddsketch_internals():
    touching = []
    for path in [*ROOT.glob("monitoring/**/*.py"), *ROOT.glob("portal/**/*.py"), *ROOT.glob("reporting/**/*.py")]:
        if re.search(r"\._(?:mapping|store|negative_store|zero_count|multiplier)\b", path.read_text()):
            touching.append(str(path.relative_to(ROOT)))
    assert touching == ["monitoring/sketches.py"]


def _mixed_values(rng, size: int) -> list[float]:
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return rng.lognormal(-2, 1, size).tolist()
    if kind == 1:
        return rng.normal(0, 5, size).tolist()  # both signs
    if kind == 2:
        return [0.0] * size
    return (-rng.lognormal(0, 2, size)).tolist()


@pytest.mark.parametrize("seed", range(4))
def test_quantiles_of_many_groups_equal_merging_each_group_exactly(seed):
    # A chart's p95 over a week of 60 series is 10,080 groups (one per point) answered at once;
    # the points must be the very numbers a merged DDSketch per point gives, not approximations.
    rng = np.random.default_rng(seed)
    groups = [
        [sketch_dumps(sketch_from_values(_mixed_values(rng, int(rng.integers(0, 150))))) for _ in range(blobs)]
        for blobs in rng.integers(0, 5, size=200)
    ]
    for q in (0.0, 0.123, 0.5, 0.95, 0.99, 1.0):
        expected = [sketch_quantile(sketch_merge_packed(blobs), q) for blobs in groups]
        assert sketch_quantiles_packed(groups, q) == expected
    assert None in expected and any(v is not None and v < 0 for v in expected)


def test_quantiles_of_many_groups_are_exact_after_a_huge_group():
    # Behind a group of 2**52 values, adding a fraction to the running count rounds: 2**52 + 9.5
    # is 2**52 + 10, which would move a later group's p95 of 11 values (rank 9.5) one bin up.
    huge = sketch_new()
    huge.add(1.0, 2.0**52)
    small = sketch_from_values([float(v) for v in range(1, 12)])  # one bin per value
    groups = [[sketch_dumps(huge)], [sketch_dumps(small)]]
    expected = [sketch_quantile(huge, 0.95), sketch_quantile(small, 0.95)]
    assert expected[1] == pytest.approx(10, rel=0.01)
    assert sketch_quantiles_packed(groups, 0.95) == expected
    # /metrics' summaries (several quantiles, raw values beside the sketches) choose the same bins
    found = sketch_quantiles_grouped([(blobs, []) for blobs in groups], (0.95,))
    assert [answers[0] for answers in found] == pytest.approx(expected, rel=1e-12)


def test_quantiles_of_many_groups_refuse_a_damaged_blob():
    # The blobs are read by offsets computed from their headers: one cut short or of another
    # format must fail loudly, not shift every later blob's bins.
    good = sketch_dumps(sketch_from_values([0.1, 0.2, -0.3, 0.0] * 20))
    with pytest.raises(ValueError, match="truncated"):
        sketch_quantiles_packed([[good], [good[:-3]]], 0.5)
    with pytest.raises(ValueError, match="truncated"):
        sketch_quantiles_packed([[good[:10]]], 0.5)
    with pytest.raises(ValueError, match="version"):
        sketch_quantiles_grouped([([good], []), ([b"\x07" + good[1:]], [])], (0.5,))
    # bytes after the bins (none are written today) are skipped
    assert sketch_quantiles_packed([[good + b"\x00" * 5], [good]], 0.5) == sketch_quantiles_packed(
        [[good], [good]], 0.5
    )
