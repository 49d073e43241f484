"""The baseline comparison on seeded synthetic samples: a real 10 % slowdown is flagged, noise of
the same size is not."""

import numpy as np
import pytest

from reporting.benchmarks.stats import compare, summary


def timings(seed: int, centre: float, n: int = 60, spread: float = 0.03) -> list[float]:
    rng = np.random.default_rng(seed)
    # Right-skewed like real timings: a floor plus log-normal jitter of ~3 %.
    return (centre * rng.lognormal(0.0, spread, n)).tolist()


@pytest.mark.parametrize("seed", range(10))
def test_a_ten_percent_slowdown_is_a_regression(seed):
    result = compare(timings(1000 + seed, 110.0), timings(seed, 100.0), min_change_percent=5)
    assert result.verdict == "regression"
    assert 7 < result.change_percent < 13
    assert result.ci_low_percent > 0


@pytest.mark.parametrize("seed", range(10))
def test_noise_of_the_same_size_is_not(seed):
    result = compare(timings(1000 + seed, 100.0), timings(seed, 100.0), min_change_percent=5)
    assert result.verdict == "unchanged"


def test_a_certain_but_tiny_change_is_below_the_minimum():
    # 2 % slower with hardly any jitter: real, but under the 5 % floor.
    result = compare(timings(1, 102.0, spread=0.001), timings(2, 100.0, spread=0.001), min_change_percent=5)
    assert result.ci_low_percent > 0
    assert result.verdict == "unchanged"
    assert compare(timings(1, 102.0, spread=0.001), timings(2, 100.0, spread=0.001), min_change_percent=1).verdict == (
        "regression"
    )


def test_higher_is_better_turns_the_sides_around():
    faster = timings(3, 90.0)
    assert compare(faster, timings(4, 100.0)).verdict == "improvement"
    assert compare(faster, timings(4, 100.0), lower_is_better=False).verdict == "regression"


def test_too_few_samples_is_not_enough_data():
    assert compare([1.0, 2.0], timings(1, 100.0)).verdict == "not_enough_data"
    assert compare(timings(1, 100.0), [0.0] * 10).verdict == "not_enough_data"


def test_the_verdict_is_the_same_every_time():
    run, base = timings(5, 104.0), timings(6, 100.0)
    assert compare(run, base) == compare(run, base)


def test_bounds_are_checked():
    with pytest.raises(ValueError, match="iterations"):
        compare([1.0] * 10, [1.0] * 10, iterations=10**6)
    with pytest.raises(ValueError, match="confidence"):
        compare([1.0] * 10, [1.0] * 10, confidence=1.0)


def test_summary_figures():
    assert summary([1.0, 2.0, 3.0, 10.0]) == {
        "count": 4,
        "minimum": 1.0,
        "maximum": 10.0,
        "mean": 4.0,
        "median": 2.5,
        "stddev": pytest.approx(4.0824829),
    }
    assert summary([])["median"] is None


def test_long_runs_are_judged_on_a_subset_with_the_same_verdicts():
    base = timings(1, 100.0, n=10_000)
    assert compare(timings(2, 110.0, n=10_000), base).verdict == "regression"
    assert compare(timings(3, 100.0, n=10_000), base).verdict == "unchanged"
    # The reported medians are of every sample, not of the subset.
    assert compare(timings(3, 100.0, n=10_000), base).baseline_median == float(np.median(base))
