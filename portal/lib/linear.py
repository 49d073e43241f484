"""Least-squares straight line through points, for forecasts (the alert evaluator's
`predict_linear`) and trend reports. Framework-free and dependency-free: a window has at most
1,440 minute points, so plain Python sums are fast enough and need no numpy import in the
evaluator."""

import math
from collections.abc import Sequence


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """(slope, intercept) of y = slope * x + intercept, or None with fewer than two distinct x
    or a non-finite input. x is centred before summing so epoch seconds lose no precision."""
    n = len(xs)
    if n != len(ys) or n < 2:
        return None
    mean_x = math.fsum(xs) / n
    mean_y = math.fsum(ys) / n
    if not (math.isfinite(mean_x) and math.isfinite(mean_y)):
        return None
    sxx = math.fsum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def predict(xs: Sequence[float], ys: Sequence[float], at: float) -> float | None:
    """The fitted line's value at x = `at` (None when no line can be fitted)."""
    fit = linear_fit(xs, ys)
    if fit is None:
        return None
    slope, intercept = fit
    value = slope * at + intercept
    return value if math.isfinite(value) else None
