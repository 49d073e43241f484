"""Reading metrics: minute buckets for alert evaluation, and series at any step for charts/API.

Sources, oldest first: hour rollups (only when the step is whole hours), minute rollups, then
raw samples for the minutes not rolled up yet (after the rollup watermark, see RollupState).
Each source is one grouped query, so the number of queries is fixed whatever the data size:
1 for the watermark + 1 per source used. Windows are minute-aligned: `since` is floored to the
minute; a bucket belongs to a window when its start is in [since, until).

Counters are stored as increments (see MetricKind), which defines the aggregations:
- count/sum/min/max/avg over every sample in the window;
- rate = sum / window seconds: for a counter, its increase per second; for a gauge it has no
  useful meaning;
- p50/p95/p99 from the merged DDSketch (relative error <= 1 %, clamped to [min, max]);
- predict_linear: the least-squares line through the per-bucket averages, read a horizon after
  the last bucket's end (a forecast: "disk full in 7 days").
"""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ddsketch import DDSketch
from django.db import connections
from django.db.models import ExpressionWrapper, F, Q, TextField
from django.db.models.functions import Cast

from monitoring.aggregations import AGGREGATIONS
from monitoring.models import HourRollup, MetricSample, MinuteRollup, RollupState
from monitoring.sketches import (
    sketch_dumps,
    sketch_loads,
    sketch_merge_all,
    sketch_merge_packed,
    sketch_new,
    sketch_quantile,
    sketch_quantiles_packed,
)
from portal.lib.finite import finite_or_none, finite_sum
from portal.lib.gc_pause import gc_paused
from portal.lib.linear import predict

LabelKey = tuple[tuple[str, str], ...]
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
# What a query or rule may ask for; p75 is the web vitals' usual percentile (not a /metrics quantile).
AGG_QUANTILES = {**QUANTILES, "p75": 0.75}
ROLLUP_STATE_KEY = "minute"
# PostgreSQL advisory lock: sample writes hold it shared while deciding to mark a late minute, a
# rollup run takes it exclusively to claim its window (monitoring.rollups._claim).
ROLLUP_LOCK_KEY = 0x6D6F6E5F726F6C6C


@dataclass(slots=True)  # ~12,600 per week-long chart: no __dict__ each
class Bucket:
    """One period (a minute, or an hour from hour rollups) of one series."""

    start: datetime
    count: int
    sum: float
    min: float
    max: float
    last: float
    sketch: DDSketch
    # Internal: collect_buckets(packed=True) leaves `sketch` None and keeps the stored bytes here,
    # so many rollups merge from bytes in one pass, or never when no quantile is asked for;
    # with sketches=False rollups have neither. minute_buckets always sets `sketch`.
    packed: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class WindowAggregate:
    count: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    last: float | None = None
    window_seconds: float = 60.0
    # The merged sketch is built on first use: avg/rate/max rules never pay for it.
    parts: list[Bucket] = field(default_factory=list, repr=False, compare=False)
    _sketch: DDSketch | None = field(default=None, repr=False, compare=False)

    @property
    def sketch(self) -> DDSketch:
        if self._sketch is None:
            packed = [b.packed for b in self.parts if b.sketch is None]
            decoded = [b.sketch for b in self.parts if b.sketch is not None]
            self._sketch = sketch_merge_packed(packed, decoded) if packed else sketch_merge_all(decoded)
        return self._sketch

    @classmethod
    def merge(cls, buckets: Iterable[Bucket], *, window_seconds: float | None = None) -> "WindowAggregate":
        """Merge buckets (any order). Pass `window_seconds` (the evaluated window's length) for
        `rate`; without it the span from the first bucket's start to the last one's end is used."""
        agg = cls()
        present = [b for b in buckets if b.count]
        if len(present) == 1:  # a chart's point is often one hour rollup
            (only,) = present
            agg.count, agg.sum, agg.min, agg.max, agg.last = (
                only.count,
                finite_sum([only.sum]),
                only.min,
                only.max,
                only.last,
            )
            agg.parts = present
        elif present:
            present.sort(key=_start)
            agg.count = sum(b.count for b in present)
            agg.sum = finite_sum([b.sum for b in present])
            agg.min = min(b.min for b in present)
            agg.max = max(b.max for b in present)
            agg.last = present[-1].last
            agg.parts = present
        if window_seconds is not None:
            agg.window_seconds = float(window_seconds)
        elif present:
            agg.window_seconds = (present[-1].start - present[0].start).total_seconds() + 60.0
        return agg

    def value(self, agg: str, *, horizon_seconds: float = 0.0) -> float | None:
        """None when there is no data, and when the result is not a finite number (possible only
        with rows stored before values were bounded): JSON cannot carry it, and no rule should
        fire on it. `horizon_seconds` is read by predict_linear only."""
        if self.count == 0:
            return None
        if agg == "avg":
            result = self.sum / self.count
        elif agg in ("min", "max", "sum", "count", "last"):
            result = float(getattr(self, agg))
        elif agg == "rate":
            result = self.sum / self.window_seconds if self.window_seconds > 0 else None
        elif agg in AGG_QUANTILES:
            result = sketch_quantile(self.sketch, AGG_QUANTILES[agg])
        elif agg == "predict_linear":
            result = self._predict(horizon_seconds)
        else:
            raise ValueError(f"unknown aggregation {agg!r}; expected one of {', '.join(AGGREGATIONS)}")
        return finite_or_none(result)

    def _predict(self, horizon_seconds: float) -> float | None:
        """Each bucket's average at its start (seconds from the last one's end), fitted; None
        with fewer than two buckets: one point gives no direction."""
        if len(self.parts) < 2:
            return None
        end = self.parts[-1].start + timedelta(seconds=60)
        xs = [(b.start - end).total_seconds() for b in self.parts]
        return predict(xs, [b.sum / b.count for b in self.parts], horizon_seconds)


def _start(bucket: Bucket) -> datetime:
    return bucket.start


def floor_minute(moment: datetime) -> datetime:
    """The UTC minute: a moment may come in the reader's zone (DRF hands out TIME_ZONE), and a
    zone can be offset by seconds (historical LMT) or half hours (Asia/Kolkata)."""
    if moment.tzinfo is not UTC:  # per raw sample when reading: the common case skips the call
        moment = moment.astimezone(UTC)
    return moment.replace(second=0, microsecond=0)


def floor_hour(moment: datetime) -> datetime:
    """The UTC hour: hour rollups start on UTC hours; flooring 17:45+05:30 to 17:00+05:30 (11:30
    UTC) read the half hour after it from both hour and minute rollups."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def label_key(slug: str, labels: dict) -> LabelKey:
    return tuple(sorted([*labels.items(), ("service", slug)]))


def rollup_watermark() -> datetime | None:
    """End of trustworthy minute rollups: raw samples are authoritative from here on."""
    row = RollupState.objects.filter(key=ROLLUP_STATE_KEY).values_list("rolled_until", "dirty_since").first()
    if row is None or row[0] is None:
        return None
    rolled, dirty = row
    return min(rolled, dirty) if dirty else rolled


def _scope(queryset, names, service_id):
    queryset = queryset.filter(name__in=list(names))
    return queryset.filter(service_id=service_id) if service_id is not None else queryset


# The labels column as stored (JSON text on SQLite and PostgreSQL alike), not decoded per row.
RAW_LABELS = ExpressionWrapper(F("labels"), output_field=TextField())


class LabelKeys(dict):
    """(service slug, labels hash) -> LabelKey, decoding each series' labels once per query: a
    week of 60 series is ~10k rollup rows carrying the same 60 label sets."""

    def get_key(self, slug: str, digest: str, raw: str) -> LabelKey:
        key = self.get((slug, digest))
        if key is None:
            key = self[slug, digest] = label_key(slug, json.loads(raw))
        return key


class Moments(dict):
    """A rollup's start as read -> the UTC datetime, parsed once per distinct value: the 10k rows
    of a week of 60 series start on 168 hours. SQLite's is read as text, which skips sqlite3's and
    Django's conversions of every row (~7 µs each); PostgreSQL's driver hands out datetimes."""

    def __missing__(self, raw) -> datetime:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
        moment = self[raw] = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return moment


def _start_column(rows):
    # A cast has no declared column type, so sqlite3 leaves the text as it is ('2026-03-01 12:00:00', UTC).
    return Cast("start", TextField()) if connections[rows.db].vendor == "sqlite" else "start"


def _rollup_buckets(model, names, start, end, service_id, out, packed=False, keys=None, sketches=True) -> None:
    if start >= end:
        return
    keys = LabelKeys() if keys is None else keys
    moments = Moments()
    series: dict[tuple[str, str, str], list[Bucket]] = {}  # (slug, labels hash, name) -> its list in `out`

    def of(slug, digest, name, labels) -> list[Bucket]:
        found = series[slug, digest, name] = out[(name, keys.get_key(slug, digest, labels))]
        return found

    rows = _scope(model.objects, names, service_id).filter(start__gte=start, start__lt=end)
    columns = ("service__slug", "name", "labels_hash", RAW_LABELS, _start_column(rows), "count", "sum", "min", "max")
    columns += ("last",)
    if not sketches:  # the sketch is most of a rollup row's bytes (~0.8 kB of ~0.9)
        for slug, name, digest, labels, begin, count, total, low, high, last in rows.values_list(*columns):
            bucket = Bucket(moments[begin], count, total, low, high, last, None)
            (series.get((slug, digest, name)) or of(slug, digest, name, labels)).append(bucket)
        return
    columns += ("sketch",)
    for slug, name, digest, labels, begin, count, total, low, high, last, sketch in rows.values_list(*columns):
        begin = moments[begin]
        if packed:
            bucket = Bucket(begin, count, total, low, high, last, None, bytes(sketch))
        else:
            bucket = Bucket(begin, count, total, low, high, last, sketch_loads(bytes(sketch)))
        (series.get((slug, digest, name)) or of(slug, digest, name, labels)).append(bucket)


def _raw_buckets(names, start, end, service_id, out, keys=None) -> None:
    if start >= end:
        return
    keys = LabelKeys() if keys is None else keys
    rows = _scope(MetricSample.objects, names, service_id).filter(time__gte=start, time__lt=end)
    open_buckets: dict[tuple, Bucket] = {}
    columns = ("service__slug", "name", "labels_hash", RAW_LABELS, "time", "value")
    for slug, name, digest, labels, moment, value in rows.order_by("time", "id").values_list(*columns):
        key = keys.get_key(slug, digest, labels)
        minute = floor_minute(moment)
        bucket = open_buckets.get((name, key, minute))
        if bucket is None:
            bucket = open_buckets[(name, key, minute)] = Bucket(minute, 0, 0.0, value, value, value, sketch_new())
            out[(name, key)].append(bucket)
        bucket.count += 1
        bucket.sum += value
        bucket.min = min(bucket.min, value)
        bucket.max = max(bucket.max, value)
        bucket.last = value
        bucket.sketch.add(value)


def collect_buckets(
    *, names, since, until, service_id=None, hours=False, packed=False, sketches=True
) -> dict[tuple[str, LabelKey], list[Bucket]]:
    """Buckets per series from the cheapest sources: hour rollups (when `hours`) for whole hours
    before the watermark, minute rollups for the other rolled-up minutes, raw samples after.
    `sketches=False` does not read the rollups' sketches (no quantile will be asked for)."""
    names = list(names)
    out: dict[tuple[str, LabelKey], list[Bucket]] = defaultdict(list)
    if not names or since >= until:
        return {}
    since = floor_minute(since)
    mark = rollup_watermark()
    rolled_end = min(until, mark) if mark else since
    minute_start = since
    keys = LabelKeys()
    if hours and mark:
        hour_start = since if since == floor_hour(since) else floor_hour(since) + HOUR
        hour_end = max(hour_start, floor_hour(rolled_end))
        _rollup_buckets(HourRollup, names, hour_start, hour_end, service_id, out, packed, keys, sketches)
        if hour_end > hour_start:
            # Minutes before the first whole hour come from minute rollups, like those after the last.
            _rollup_buckets(MinuteRollup, names, since, hour_start, service_id, out, packed, keys, sketches)
            minute_start = hour_end
    _rollup_buckets(MinuteRollup, names, minute_start, rolled_end, service_id, out, packed, keys, sketches)
    _raw_buckets(names, max(since, rolled_end), until, service_id, out, keys)
    for buckets in out.values():
        buckets.sort(key=lambda b: b.start)
    return dict(out)


def minute_buckets(
    *, names: Iterable[str], since: datetime, until: datetime
) -> dict[tuple[str, LabelKey], list[Bucket]]:
    """Per-minute buckets of every series of these metric names in [since, until).

    At most three queries (watermark, minute rollups, raw samples) whatever the number of series.
    The last bucket may be a partial minute when `until` is inside it."""
    return collect_buckets(names=names, since=since, until=until)


@dataclass
class Series:
    name: str
    labels: LabelKey
    points: list[tuple[datetime, float | None]]

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


def step_start(moment: datetime, step: int) -> datetime:
    """Align to multiples of `step` seconds since the epoch, so charts are stable across reloads."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, tz=UTC)


@gc_paused()  # a week of 60 series is ~50k short-lived objects, no cycles among them
def series_query(
    *,
    name: str,
    since: datetime,
    until: datetime,
    step: int = 60,
    agg: str = "avg",
    service_id: int | None = None,
    labels: dict[str, str] | None = None,
) -> list[Series]:
    """Aggregation `agg` of metric `name`, per series matching `labels` (exact values; "service"
    matches the service slug), at `step` seconds (a multiple of 60) over [since, until).

    Whole-hour steps read hour rollups for complete hours; every step gets a point (None when
    the series had no samples in it)."""
    if agg not in AGGREGATIONS:
        raise ValueError(f"agg: expected one of {', '.join(AGGREGATIONS)}")
    if step < 60 or step % 60:
        raise ValueError("step: must be a positive multiple of 60 seconds")
    first = step_start(since, step)
    quantile = AGG_QUANTILES.get(agg)
    found = collect_buckets(
        names=[name],
        since=first,
        until=until,
        service_id=service_id,
        hours=step % 3600 == 0,
        packed=True,
        sketches=quantile is not None,
    )
    wanted = set((labels or {}).items())
    starts = []
    moment = first
    while moment < until:
        starts.append(moment)
        moment += timedelta(seconds=step)
    result = []
    sketch_groups: list[list[bytes]] = []  # quantiles: the sketches of each point, answered at once
    step_of: dict[datetime, datetime] = {}  # bucket start -> its step's: the series share their hours
    for (metric, key), buckets in sorted(found.items()):
        if not wanted <= set(key):
            continue
        per_step: dict[datetime, list[Bucket]] = defaultdict(list)
        for bucket in buckets:
            if bucket.count:
                begin = step_of.get(bucket.start)
                if begin is None:
                    begin = step_of[bucket.start] = step_start(bucket.start, step)
                per_step[begin].append(bucket)
        if quantile is None:
            points = [
                (start, WindowAggregate.merge(per_step.get(start, ()), window_seconds=step).value(agg))
                for start in starts
            ]
        else:
            points = []
            for start in starts:
                present = per_step.get(start)
                points.append((start, len(sketch_groups) if present else None))
                if present:
                    # Raw minutes after the watermark carry a decoded sketch: a few, serialized.
                    sketch_groups.append([b.packed if b.sketch is None else sketch_dumps(b.sketch) for b in present])
        result.append(Series(metric, key, points))
    if quantile is not None and sketch_groups:
        answers = sketch_quantiles_packed(sketch_groups, quantile)
        for series in result:
            series.points = [(t, None if i is None else finite_or_none(answers[i])) for t, i in series.points]
    return result


def window_aggregates(
    *,
    name: str,
    since: datetime,
    until: datetime,
    service_id: int | None = None,
    labels: dict[str, str] | None = None,
) -> dict[LabelKey, WindowAggregate]:
    """One aggregate per series over the whole window (e.g. "p95 over 30 days"), reading hour
    rollups for the whole hours inside it: at most five queries whatever the data size."""
    found = collect_buckets(names=[name], since=since, until=until, service_id=service_id, hours=True, packed=True)
    wanted = set((labels or {}).items())
    seconds = (until - floor_minute(since)).total_seconds()
    return {
        key: WindowAggregate.merge(buckets, window_seconds=seconds)
        for (_, key), buckets in found.items()
        if wanted <= set(key)
    }


def series_list(*, name: str, since: datetime, until: datetime, service_id: int | None = None) -> list[LabelKey]:
    """The label sets (service included) that metric `name` had in [since, until): hour rollups
    for the whole hours (a week of 60 series is 10k rows there, 600k minute rollups), minute
    rollups for the minutes around them, raw samples after the watermark; four queries."""
    since = floor_minute(since)
    mark = rollup_watermark()
    rolled_end = min(until, mark) if mark else since
    first = since if since == floor_hour(since) else floor_hour(since) + HOUR
    last = floor_hour(rolled_end)
    if last <= first:  # no whole hour rolled up: minute rollups only
        first = last = max(since, rolled_end)
    found: set[LabelKey] = set()
    fields = ("service__slug", "labels_hash", "labels")

    def add(rows) -> None:
        found.update(label_key(slug, labels) for slug, _, labels in rows.values_list(*fields).distinct())

    if last > first:
        add(_scope(HourRollup.objects, [name], service_id).filter(start__gte=first, start__lt=last))
    if rolled_end > since:
        # Two ranges rather than NOT(the whole hours): each one is an index range.
        edges = Q(start__gte=since, start__lt=first) | Q(start__gte=last, start__lt=rolled_end)
        add(_scope(MinuteRollup.objects, [name], service_id).filter(edges))
    start = max(since, rolled_end)
    if start < until:
        add(_scope(MetricSample.objects, [name], service_id).filter(time__gte=start, time__lt=until))
    return sorted(found)
