"""Cost of one benchmark comparison (reporting.benchmarks.stats.compare) at 50, 1,000 and
10,000 samples a side, with the 2,000-sample bootstrap subset against bootstrapping every
sample, measured side by side (best of 3 each); and whether both give the same verdicts on a
10 % slowdown and on same-size noise.

    .venv/bin/python bench/benchmark_compare.py
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reporting.benchmarks import stats


def best_of(runs: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    rng = np.random.default_rng(7)
    full_limit = stats.MAX_BOOTSTRAP_SAMPLES
    for n in (50, 1000, 10_000):
        base = (100 * rng.lognormal(0, 0.03, n)).tolist()
        slow = (110 * rng.lognormal(0, 0.03, n)).tolist()
        noise = (100 * rng.lognormal(0, 0.03, n)).tolist()
        subset_s, subset_v = best_of(3, lambda s=slow, b=base: stats.compare(s, b).verdict)
        stats.MAX_BOOTSTRAP_SAMPLES = 10**9  # every sample bootstrapped
        full_s, full_v = best_of(3, lambda s=slow, b=base: stats.compare(s, b).verdict)
        full_noise = stats.compare(noise, base).verdict
        stats.MAX_BOOTSTRAP_SAMPLES = full_limit
        subset_noise = stats.compare(noise, base).verdict
        print(
            f"n={n:>6}: subset {subset_s * 1000:7.1f} ms, every sample {full_s * 1000:7.1f} ms, "
            f"ratio {full_s / subset_s:4.1f}x; verdicts 10% slower {subset_v}/{full_v}, "
            f"noise {subset_noise}/{full_noise}"
        )


if __name__ == "__main__":
    main()
