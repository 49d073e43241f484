"""Is a benchmark run slower than its baseline? Framework-free (numpy only).

The test is a percentile bootstrap of the difference of medians: both sample sets are resampled
with replacement, the median difference is computed for each resample, and the central
`confidence` interval of those differences says whether the change is real. A run is a regression
when the whole interval lies on the worse side of zero AND the median moved by at least
`min_change_percent` (a certain 0.1 % slowdown is noise nobody should be paged for).

Why a bootstrap and not Mann-Whitney U: scipy would be a ~40 MB runtime dependency for one
function; the bootstrap needs only numpy (already used), makes no assumption on the shape of the
timings, and speaks directly of the median, the figure the pages show. The generator is seeded,
so the same samples always give the same verdict.
"""

from dataclasses import dataclass

import numpy as np

MIN_SAMPLES = 5  # fewer samples on either side: "not enough data"
MAX_ITERATIONS = 10_000
DEFAULT_ITERATIONS = 2000
# Resampling works in slabs of at most this many values, so 10,000 samples x 2,000 resamples
# does not allocate 160 MB at once.
_SLAB_VALUES = 1_000_000
# A side with more samples is bootstrapped from a seeded random subset of this many: the median of
# 2,000 timings is already known to a fraction of a percent, and 10,000 x 2,000 resamples took
# 1.7 s a comparison against ~0.3 s this way (the medians reported are of all samples).
MAX_BOOTSTRAP_SAMPLES = 2000


@dataclass(frozen=True)
class Comparison:
    verdict: str  # not_enough_data | unchanged | improvement | regression
    change_percent: float | None
    run_median: float | None
    baseline_median: float | None
    ci_low_percent: float | None  # the confidence interval of the median change, in % of the baseline
    ci_high_percent: float | None


def _boot_medians(values: np.ndarray, iterations: int, rng: np.random.Generator) -> np.ndarray:
    n = len(values)
    rows = max(1, _SLAB_VALUES // n)
    out = np.empty(iterations)
    done = 0
    while done < iterations:
        take = min(rows, iterations - done)
        out[done : done + take] = np.median(values[rng.integers(0, n, size=(take, n))], axis=1)
        done += take
    return out


def compare(
    run: list[float],
    baseline: list[float],
    *,
    lower_is_better: bool = True,
    min_change_percent: float = 5.0,
    confidence: float = 0.95,
    iterations: int = DEFAULT_ITERATIONS,
    seed: int = 0,
) -> Comparison:
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be 1-{MAX_ITERATIONS}")
    a = np.asarray(run, dtype=float)
    b = np.asarray(baseline, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES:
        return Comparison("not_enough_data", None, None, None, None, None)
    run_median, base_median = float(np.median(a)), float(np.median(b))
    if base_median == 0:
        # A change in % of zero means nothing; treated as not comparable rather than infinite.
        return Comparison("not_enough_data", None, run_median, base_median, None, None)
    rng = np.random.default_rng(seed)
    if len(a) > MAX_BOOTSTRAP_SAMPLES:
        a = rng.choice(a, MAX_BOOTSTRAP_SAMPLES, replace=False)
    if len(b) > MAX_BOOTSTRAP_SAMPLES:
        b = rng.choice(b, MAX_BOOTSTRAP_SAMPLES, replace=False)
    diffs = _boot_medians(a, iterations, rng) - _boot_medians(b, iterations, rng)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    scale = 100.0 / abs(base_median)
    change = (run_median - base_median) * scale
    low_pct, high_pct = float(low * scale), float(high * scale)
    worse_sign = 1 if lower_is_better else -1
    # "Worse" for a time is up, for a throughput down: flip so one rule serves both.
    w_low, w_high = sorted((low_pct * worse_sign, high_pct * worse_sign))
    w_change = change * worse_sign
    if w_low > 0 and w_change >= min_change_percent:
        verdict = "regression"
    elif w_high < 0 and -w_change >= min_change_percent:
        verdict = "improvement"
    else:
        verdict = "unchanged"
    return Comparison(verdict, change, run_median, base_median, low_pct, high_pct)


def summary(values: list[float]) -> dict:
    """count/min/max/mean/median/stddev (sample stddev, like pytest-benchmark) of finite values."""
    a = np.asarray(values, dtype=float)
    if len(a) == 0:
        return {"count": 0, "minimum": None, "maximum": None, "mean": None, "median": None, "stddev": None}
    return {
        "count": len(a),
        "minimum": float(a.min()),
        "maximum": float(a.max()),
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "stddev": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
    }
