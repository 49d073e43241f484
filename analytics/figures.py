"""Per-feature performance figures from raw events and hour rollups. Imports nothing from Django.

A feature's figures over a range are built from two kinds of input, added into one `FeatureAcc`:
raw events (a duration each) and hour rollups (counts plus a packed DDSketch of durations). The
percentiles come from one merged sketch, so they carry the sketch's relative error
(monitoring.sketches.RELATIVE_ACCURACY, 1 %) whichever input they came from.

Below the minimum sample count a figure is None with `enough_data` False: the page and the API
say "not enough data" rather than a success rate of 100 % from two calls.
"""

from collections import Counter
from dataclasses import dataclass, field

from monitoring.sketches import sketch_from_values, sketch_merge_packed, sketch_quantile

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
TOP_ERRORS = 5


@dataclass
class FeatureAcc:
    count: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)
    sketches: list[bytes] = field(default_factory=list)  # packed, from hour rollups
    duration_count: int = 0
    error_types: Counter = field(default_factory=Counter)

    def add_event(self, success: bool, duration: float | None, error_type: str) -> None:
        self.count += 1
        if not success:
            self.errors += 1
        if duration is not None:
            self.durations.append(duration)
            self.duration_count += 1
        if error_type:
            self.error_types[error_type] += 1

    def add_rollup(self, count: int, errors: int, duration_count: int, sketch: bytes, error_types: dict) -> None:
        self.count += count
        self.errors += errors
        if duration_count and sketch:
            self.sketches.append(sketch)
            self.duration_count += duration_count
        self.error_types.update(error_types or {})

    def quantiles(self) -> dict[str, float | None]:
        if not self.duration_count:
            return dict.fromkeys(QUANTILES)
        extra = [sketch_from_values(self.durations)] if self.durations else []
        sketch = sketch_merge_packed(self.sketches, extra=extra) if self.sketches else extra[0]
        return {label: sketch_quantile(sketch, q) for label, q in QUANTILES.items()}


@dataclass(frozen=True)
class Figures:
    count: int
    errors: int
    duration_count: int
    enough_data: bool  # count reached the minimum: rates are given
    enough_durations: bool  # durations reached the minimum: percentiles are given
    success_rate: float | None
    error_rate: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    top_errors: list[tuple[str, int]]

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "top_errors"}
        out["top_errors"] = [{"error_type": t, "count": n} for t, n in self.top_errors]
        return out


def figures_of(acc: FeatureAcc, *, min_samples: int) -> Figures:
    enough = acc.count >= min_samples
    enough_durations = acc.duration_count >= min_samples
    error_rate = acc.errors / acc.count if enough else None
    quantiles = acc.quantiles() if enough_durations else dict.fromkeys(QUANTILES)
    return Figures(
        count=acc.count,
        errors=acc.errors,
        duration_count=acc.duration_count,
        enough_data=enough,
        enough_durations=enough_durations,
        success_rate=None if error_rate is None else 1 - error_rate,
        error_rate=error_rate,
        top_errors=acc.error_types.most_common(TOP_ERRORS),
        **quantiles,
    )


def relative_change(current: float | None, previous: float | None) -> float | None:
    """(current - previous) / previous; None when either is missing or previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


COMPARED = ("count", "error_rate", "p50", "p95", "p99")


def comparison(current: Figures, previous: Figures) -> dict[str, float | None]:
    """Relative change of each compared figure against the previous period of equal length."""
    return {name: relative_change(getattr(current, name), getattr(previous, name)) for name in COMPARED}
