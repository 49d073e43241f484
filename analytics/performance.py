"""Per-feature performance over a time range: what the features API and pages show.

Ranges up to RAW_MAX read raw events (exact edges). Longer ranges are counted in whole UTC
hours: the hour rollups, plus the raw events the fold job has not reached yet (ids above its
watermark), so a figure never waits for the job and never counts an event twice (except for a
fold committing between the two reads, which a later read corrects).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from analytics.figures import FeatureAcc, Figures, comparison, figures_of
from analytics.models import FeatureHourRollup, UsageEvent
from analytics.rollups import floor_hour, folded_id
from monitoring.sketches import sketch_dumps, sketch_from_values, sketch_quantiles_packed

RANGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_RANGE = "1d"
RAW_MAX = timedelta(hours=6)
MAX_RANGE = timedelta(days=366)  # custom ranges; hour rollups are kept after raw events go
MAX_FEATURES = 500  # rows of the features list (the most used first)
HOUR = timedelta(hours=1)

Key = tuple[int, str]  # (service id, name)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @property
    def raw(self) -> bool:
        return self.until - self.since <= RAW_MAX

    def counted(self) -> "Window":
        """The window as counted: long ones widened to whole UTC hours."""
        if self.raw:
            return self
        until = floor_hour(self.until)
        return Window(floor_hour(self.since), until if until == self.until else until + HOUR)

    def previous(self) -> "Window":
        return Window(self.since - (self.until - self.since), self.since)


def window_for(*, range_name: str | None = None, since=None, until=None, now=None) -> Window:
    """A named range ending now, or a custom one (since/until, already bounded by the caller)."""
    now = now or timezone.now()
    if since is not None or until is not None:
        until = until or now
        return Window(since or until - RANGES[DEFAULT_RANGE], until)
    return Window(now - RANGES[range_name or DEFAULT_RANGE], now)


def _events(window: Window, service_id, name, above_id: int = 0):
    events = UsageEvent.objects.filter(time__gte=window.since, time__lt=window.until)
    if service_id is not None:
        events = events.filter(service_id=service_id)
    if name is not None:
        events = events.filter(name=name)
    if above_id:
        events = events.filter(id__gt=above_id)
    return events


def _rollups(window: Window, service_id, name):
    rows = FeatureHourRollup.objects.filter(hour__gte=window.since, hour__lt=window.until)
    if service_id is not None:
        rows = rows.filter(service_id=service_id)
    if name is not None:
        rows = rows.filter(name=name)
    return rows


RAW_COLUMNS = ("service_id", "name", "time", "success", "duration_ms", "error_type")
ROLLUP_COLUMNS = ("service_id", "name", "hour", "count", "errors", "duration_count", "sketch", "error_types")


def _fill(window: Window, service_id, name, add_event, add_rollup) -> None:
    """Feed every event and rollup of the counted window to the two callbacks (streamed)."""
    if window.raw:
        for row in _events(window, service_id, name).values_list(*RAW_COLUMNS).iterator(chunk_size=5000):
            add_event(*row)
        return
    watermark = folded_id()  # first: see the module docstring
    for row in _rollups(window, service_id, name).values_list(*ROLLUP_COLUMNS).iterator(chunk_size=2000):
        add_rollup(*row)
    for row in _events(window, service_id, name, above_id=watermark).values_list(*RAW_COLUMNS).iterator(5000):
        add_event(*row)


def _raw_into(events, acc) -> None:
    """Raw events into accumulators: counts and error types grouped by the database, only the
    durations read row by row (three plain columns; no datetime to convert per event)."""
    events = events.order_by()
    grouped = events.values("service_id", "name").annotate(n=Count("id"), failed=Count("id", filter=Q(success=False)))
    for row in grouped.values_list("service_id", "name", "n", "failed"):
        found = acc(row[0], row[1])
        found.count += row[2]
        found.errors += row[3]
    types = events.exclude(error_type="").values("service_id", "name", "error_type").annotate(n=Count("id"))
    for service, feature, error_type, n in types.values_list("service_id", "name", "error_type", "n"):
        acc(service, feature).error_types[error_type] += n
    timed = events.filter(duration_ms__isnull=False).values_list("service_id", "name", "duration_ms")
    for service, feature, duration in timed.iterator(chunk_size=10_000):
        found = acc(service, feature)
        found.durations.append(duration)
        found.duration_count += 1


def feature_accs(window: Window, *, service_id=None, name=None, by_service: bool = True) -> dict[Key, FeatureAcc]:
    """Accumulated figures per (service id, name); with by_service False, per (None, name)."""
    accs: dict[Key, FeatureAcc] = {}

    def acc(service, feature) -> FeatureAcc:
        key = (service if by_service else None, feature)
        found = accs.get(key)
        if found is None:
            found = accs[key] = FeatureAcc()
        return found

    counted = window.counted()
    if counted.raw:
        _raw_into(_events(counted, service_id, name), acc)
        return accs
    watermark = folded_id()  # first: see the module docstring
    for row in _rollups(counted, service_id, name).values_list(*ROLLUP_COLUMNS).iterator(chunk_size=2000):
        service, feature, _hour, count, errors, duration_count, sketch, error_types = row
        acc(service, feature).add_rollup(count, errors, duration_count, bytes(sketch), error_types)
    _raw_into(_events(counted, service_id, name, above_id=watermark), acc)
    return accs


@dataclass(frozen=True)
class FeatureRow:
    service_id: int | None
    name: str
    current: Figures
    previous: Figures
    change: dict


def feature_rows(window: Window, *, service_id=None, min_samples: int | None = None) -> list[FeatureRow]:
    """Every feature used in the window (the MAX_FEATURES most used), with the previous period."""
    min_samples = min_samples or settings.ANALYTICS_MIN_SAMPLES
    current = feature_accs(window, service_id=service_id)
    keys = sorted(current, key=lambda k: (-current[k].count, k))[:MAX_FEATURES]
    before = feature_accs(window.previous(), service_id=service_id)
    rows = []
    for key in keys:
        now_figures = figures_of(current[key], min_samples=min_samples)
        then = figures_of(before.get(key) or FeatureAcc(), min_samples=min_samples)
        rows.append(FeatureRow(key[0], key[1], now_figures, then, comparison(now_figures, then)))
    return rows


def series_step(window: Window) -> timedelta:
    span = window.until - window.since
    if window.raw:
        return timedelta(minutes=1) if span <= HOUR else timedelta(minutes=5)
    return HOUR if span <= timedelta(days=31) else timedelta(days=1)


def _bucket(moment: datetime, step: timedelta) -> datetime:
    epoch = int(moment.timestamp())
    seconds = int(step.total_seconds())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def feature_detail(window: Window, *, name: str, service_id=None, min_samples: int | None = None) -> FeatureRow:
    """One feature (over every service unless one is given), with the previous period."""
    min_samples = min_samples or settings.ANALYTICS_MIN_SAMPLES
    now_acc = feature_accs(window, service_id=service_id, name=name, by_service=False).get((None, name))
    then_acc = feature_accs(window.previous(), service_id=service_id, name=name, by_service=False).get((None, name))
    current = figures_of(now_acc or FeatureAcc(), min_samples=min_samples)
    previous = figures_of(then_acc or FeatureAcc(), min_samples=min_samples)
    return FeatureRow(service_id, name, current, previous, comparison(current, previous))


def feature_series(window: Window, *, name: str, service_id=None) -> dict:
    """Calls, errors and p95 duration per step (UTC buckets) for one feature."""
    counted = window.counted()
    step = series_step(window)
    starts = []
    moment = _bucket(counted.since, step)
    while moment < counted.until:
        starts.append(moment)
        moment += step
    index = {start: i for i, start in enumerate(starts)}
    calls, errors = [0] * len(starts), [0] * len(starts)
    durations: list[list[float]] = [[] for _ in starts]
    blobs: list[list[bytes]] = [[] for _ in starts]

    def add_event(_service, _name, moment, success, duration, _error_type):
        i = index.get(_bucket(moment, step))
        if i is None:
            return
        calls[i] += 1
        errors[i] += 0 if success else 1
        if duration is not None:
            durations[i].append(duration)

    def add_rollup(_service, _name, hour, count, errs, duration_count, sketch, _types):
        i = index.get(_bucket(hour, step))
        if i is None:
            return
        calls[i] += count
        errors[i] += errs
        if duration_count and sketch:
            blobs[i].append(bytes(sketch))

    _fill(counted, service_id, name, add_event, add_rollup)
    # Raw durations become one sketch per bucket so one packed pass answers every bucket.
    from_raw = [[*b, _packed(d)] if d else b for b, d in zip(blobs, durations, strict=True)]
    p95 = sketch_quantiles_packed(from_raw, 0.95)
    return {"step": int(step.total_seconds()), "starts": starts, "calls": calls, "errors": errors, "p95": p95}


def _packed(values: list[float]) -> bytes:
    return sketch_dumps(sketch_from_values(values))
