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


def duration_text(value: timedelta) -> str:
    """5m, 1h30m, 2d (what the builder's duration fields read back)."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0m"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@dataclass
class SeriesPreview:
    labels: dict[str, str]
    value: float | None  # at now: what the evaluator would see
    holds: bool
    # One value per chart point; only for the label sets drawn, and for those whose `for` must
    # be judged (a metric with hundreds of label sets costs one merge for each of the others).
    values: list[float | None] | None = None

    def held_since(self, rule: AlertRule, times: list[datetime]) -> datetime | None:
        """Start of the run of chart points, up to now, at which the condition held."""
        since = None
        for moment, value in zip(reversed(times), reversed(self.values or ()), strict=False):
            if not condition_holds(value, rule.comparison, rule.threshold):
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


def _closeness(rule: AlertRule, value: float | None) -> float:
    """Sort key: the series nearest to (or furthest past) the threshold first; no data last."""
    if value is None:
        return float("inf")
    if rule.comparison in (Comparison.GT, Comparison.GTE):
        return -value
    if rule.comparison in (Comparison.LT, Comparison.LTE):
        return value
    return abs(value - rule.threshold)


def _would_fire(rule: AlertRule, series: SeriesPreview, times: list[datetime]) -> bool:
    if not series.holds:
        return False
    if not rule.for_duration:
        return True
    # Judged at the chart's steps; a `for` longer than the chart can never be confirmed by it.
    since = series.held_since(rule, times)
    return since is not None and times[-1] - since >= rule.for_duration


def _shown(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4g}"


def _text(rule: AlertRule, series: list[SeriesPreview], firing: list[SeriesPreview]) -> str:
    if not series:
        return "Would fire now: no (no data for these matchers in the last 24 h)"
    if firing:
        first = firing[0]
        shown = ", ".join(f"{k}={v}" for k, v in sorted(first.labels.items()))
        text = f"Would fire now: yes ({_shown(first.value)}; {shown})"
        return text + (f" — {len(firing)} of {len(series)} label sets" if len(series) > 1 else "")
    closest = series[0]
    text = f"Would fire now: no ({_shown(closest.value)})"
    if closest.holds and rule.for_duration:
        text += f" — the condition holds now but must hold for {duration_text(rule.for_duration)} before it fires"
    return text


def rule_preview(*, rule: AlertRule, now: datetime) -> RulePreview:
    """Preview an (unsaved) metric rule at `now`: its metric, matchers, service, aggregation,
    window, comparison, threshold and `for` are read; nothing is written."""
    times = preview_times(now, preview_step(rule.window))
    found = collect_buckets(names=[rule.metric], since=times[0] - rule.window, until=now, packed=True)
    matchers = rule.all_matchers()
    series, history = [], {}
    for (_, key), buckets in sorted(found.items()):
        labels = dict(key)
        if matches_all(matchers, labels):
            value = window_aggregate(buckets, window=rule.window, now=now).value(
                rule.aggregation, horizon_seconds=rule.horizon.total_seconds()
            )
            series.append(SeriesPreview(labels, value, condition_holds(value, rule.comparison, rule.threshold)))
            history[id(series[-1])] = buckets
    series.sort(key=lambda s: _closeness(rule, s.value))
    for index, item in enumerate(series):
        if index < MAX_CHART_SERIES or (item.holds and rule.for_duration):
            buckets = history[id(item)]
            item.values = [
                *(
                    window_aggregate(buckets, window=rule.window, now=t).value(
                        rule.aggregation, horizon_seconds=rule.horizon.total_seconds()
                    )
                    for t in times[:-1]
                ),
                item.value,
            ]
    firing = [s for s in series if _would_fire(rule, s, times)]
    return RulePreview(times, series, firing, _text(rule, series, firing))
