"""Trend analysis of one series of (time, value) points. Framework-free: imports nothing from
Django, so it is tested and benchmarked alone.

- slope: least-squares line, per day or per hour;
- change: mean of this period against the mean of the previous one (absolute and %);
- anomalies: robust modified z-score 0.6745 * (x - median) / MAD (Iglewicz and Hoaglin),
  flagged above 3.5: a mean and standard deviation are dragged by the very outliers sought;
- forecast: when the fitted line crosses a threshold T, if it is heading there.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from portal.lib.linear import linear_fit

UNITS = {"hour": 3600.0, "day": 86400.0}
Z_LIMIT = 3.5
Z_SCALE = 0.6745  # the MAD of a normal distribution is 0.6745 standard deviations
MAX_POINTS = 10_000  # what one trend is computed over; callers pick steps to stay below


@dataclass
class Trend:
    points: int
    slope: float | None = None  # value change per `unit`
    unit: str = "day"
    mean: float | None = None
    previous_mean: float | None = None
    change: float | None = None
    change_percent: float | None = None
    anomalies: list[int] = field(default_factory=list)  # indexes into the present points
    threshold: float | None = None
    crosses_at: datetime | None = None  # None: not heading to the threshold (or no line)
    crosses_in_seconds: float | None = None


def _present(points: Sequence[tuple[datetime, float | None]]) -> list[tuple[datetime, float]]:
    return [(t, float(v)) for t, v in points if v is not None and math.isfinite(v)]


def slope_per(points: Sequence[tuple[datetime, float]], unit: str = "day") -> float | None:
    fit = linear_fit([t.timestamp() for t, _ in points], [v for _, v in points])
    return None if fit is None else fit[0] * UNITS[unit]


def modified_z_scores(values: Sequence[float]) -> list[float]:
    """0.6745 (x - median) / MAD. With MAD 0 (more than half the values equal) any value off
    the median is infinitely unusual and the others score 0."""
    if not values:
        return []
    median = statistics.median(values)
    mad = statistics.median([abs(v - median) for v in values])
    if mad == 0:
        return [0.0 if v == median else math.copysign(math.inf, v - median) for v in values]
    return [Z_SCALE * (v - median) / mad for v in values]


def anomalies(values: Sequence[float], limit: float = Z_LIMIT) -> list[int]:
    return [i for i, z in enumerate(modified_z_scores(values)) if abs(z) > limit]


def change(current: Sequence[float], previous: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean now - mean before, that as % of the mean before; None when before is 0 or empty)."""
    if not current or not previous:
        return None, None
    now, before = statistics.fmean(current), statistics.fmean(previous)
    delta = now - before
    return delta, (100.0 * delta / abs(before) if before else None)


def crossing(
    points: Sequence[tuple[datetime, float]], threshold: float, *, now: datetime, above: bool = True
) -> tuple[datetime | None, float | None]:
    """When the least-squares line reaches `threshold` (from below with `above`, else from
    above) at or after `now`: (moment, seconds from now). A line already there gives `now` and 0;
    a flat line or one heading away gives None."""
    fit = linear_fit([t.timestamp() for t, _ in points], [v for _, v in points])
    if fit is None:
        return None, None
    slope, intercept = fit
    value_now = slope * now.timestamp() + intercept
    if (value_now >= threshold) if above else (value_now <= threshold):
        return now, 0.0
    if slope == 0 or (slope > 0) != above:
        return None, None
    seconds = (threshold - value_now) / slope
    if not math.isfinite(seconds) or seconds > 1e11:  # beyond any calendar a report shows
        return None, None
    return now + timedelta(seconds=seconds), seconds


def trend(
    points: Sequence[tuple[datetime, float | None]],
    *,
    previous: Sequence[tuple[datetime, float | None]] = (),
    unit: str = "day",
    threshold: float | None = None,
    above: bool = True,
    now: datetime | None = None,
) -> Trend:
    """All figures for one series; missing points (None, NaN) are left out."""
    if unit not in UNITS:
        raise ValueError(f"unit: expected one of {', '.join(UNITS)}")
    present = _present(points)[:MAX_POINTS]
    before = [v for _, v in _present(previous)[:MAX_POINTS]]
    values = [v for _, v in present]
    result = Trend(points=len(present), unit=unit, threshold=threshold)
    if not present:
        return result
    result.slope = slope_per(present, unit)
    result.mean = statistics.fmean(values)
    result.previous_mean = statistics.fmean(before) if before else None
    result.change, result.change_percent = change(values, before)
    result.anomalies = anomalies(values)
    if threshold is not None:
        result.crosses_at, result.crosses_in_seconds = crossing(
            present, threshold, now=now or present[-1][0], above=above
        )
    return result
