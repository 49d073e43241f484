"""What a rule being edited would have seen: its aggregation over the last 24 hours, one line
per matching label set, and whether it would fire now.

Every point is the evaluator's own computation at that moment (`evaluation.window_aggregate`:
the minute buckets of [now - window, now) merged by `WindowAggregate`), so the chart shows what
the per-minute evaluation saw, and the last point is exactly what it would see now. The
buckets are read once (minute rollups + raw samples, the evaluator's sources) and sliced per
point.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitoring.alerting.conditions import condition_holds, matches_all
from monitoring.alerting.evaluation import window_aggregate
from monitoring.alerting.models import AlertRule, Comparison
from monitoring.query import collect_buckets, step_start

SPAN = timedelta(hours=24)
STEP_MINUTES = (10, 15, 20, 30, 60, 120, 240)
# Buckets merged per series for a whole chart: a 24 h window at 10-minute steps would merge
# 1,440 buckets for each of 144 points; longer windows get coarser steps instead.
MERGE_BUDGET = 30_000
MAX_CHART_SERIES = 8


def preview_step(window: timedelta) -> timedelta:
    minutes = max(1, int(window.total_seconds() // 60))
    for step in STEP_MINUTES:
        if SPAN.total_seconds() / 60 / step * minutes <= MERGE_BUDGET:
            return timedelta(minutes=step)
    return timedelta(minutes=STEP_MINUTES[-1])


def preview_times(now: datetime, step: timedelta) -> list[datetime]:
    """Step-aligned moments after now - 24 h (stable across reloads), then `now` itself."""
    seconds = int(step.total_seconds())
    moment = step_start(now - SPAN, seconds) + step
    times = []
    while moment < now:
        times.append(moment)
        moment += step
    return [*times, now]


@dataclass
class SeriesPreview:
    labels: dict[str, str]
    values: list[float | None]
    holds: list[bool]

    @property
    def value(self) -> float | None:
        return self.values[-1]

    def held_since(self, times: list[datetime]) -> datetime | None:
        """Start of the run of chart points, up to now, at which the condition held."""
        since = None
        for moment, holds in zip(reversed(times), reversed(self.holds), strict=True):
            if not holds:
                break
            since = moment
        return since


@dataclass
class RulePreview:
    times: list[datetime]
    series: list[SeriesPreview]  # every matching label set, the closest to firing first
    firing: list[SeriesPreview]  # those that would fire now
    text: str

    @property
    def would_fire(self) -> bool:
        return bool(self.firing)

    @property
    def value(self) -> float | None:
        shown = self.firing or self.series
        return shown[0].value if shown else None


def _closeness(rule: AlertRule, series: SeriesPreview) -> float:
    """Sort key: the series nearest to (or furthest past) the threshold first; no data last."""
    value = series.value
    if value is None:
        return float("inf")
    if rule.comparison in (Comparison.GT, Comparison.GTE):
        return -value
    if rule.comparison in (Comparison.LT, Comparison.LTE):
        return value
    return abs(value - rule.threshold)


def _would_fire(rule: AlertRule, series: SeriesPreview, times: list[datetime]) -> bool:
    if not series.holds[-1]:
        return False
    if not rule.for_duration:
        return True
    # Judged at the chart's steps; a `for` longer than the chart can never be confirmed by it.
    since = series.held_since(times)
    return since is not None and times[-1] - since >= rule.for_duration


def _shown(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4g}"


def _text(rule: AlertRule, series: list[SeriesPreview], firing: list[SeriesPreview], times) -> str:
    if not series:
        return "Would fire now: no (no data for these matchers in the last 24 h)"
    if firing:
        first = firing[0]
        shown = ", ".join(f"{k}={v}" for k, v in sorted(first.labels.items()))
        text = f"Would fire now: yes ({_shown(first.value)}; {shown})"
        return text + (f" — {len(firing)} of {len(series)} label sets" if len(series) > 1 else "")
    closest = series[0]
    text = f"Would fire now: no ({_shown(closest.value)})"
    if closest.holds[-1] and rule.for_duration:
        text += f" — the condition holds now but must hold for {rule.for_duration} before it fires"
    return text


def rule_preview(*, rule: AlertRule, now: datetime) -> RulePreview:
    """Preview an (unsaved) metric rule at `now`: its metric, matchers, service, aggregation,
    window, comparison, threshold and `for` are read; nothing is written."""
    times = preview_times(now, preview_step(rule.window))
    found = collect_buckets(names=[rule.metric], since=times[0] - rule.window, until=now, packed=True)
    matchers = rule.all_matchers()
    series = []
    for (_, key), buckets in sorted(found.items()):
        labels = dict(key)
        if not matches_all(matchers, labels):
            continue
        values = [window_aggregate(buckets, window=rule.window, now=moment).value(rule.aggregation) for moment in times]
        holds = [condition_holds(v, rule.comparison, rule.threshold) for v in values]
        series.append(SeriesPreview(labels, values, holds))
    series.sort(key=lambda s: _closeness(rule, s))
    firing = [s for s in series if _would_fire(rule, s, times)]
    return RulePreview(times, series, firing, _text(rule, series, firing, times))
