"""The demo service's metrics: a week of history at install, then live samples every minute.

History is stored the way the rollup job would have left it, without making it roll a week of
raw samples: hour rollups for the whole week, minute rollups for the last day (what the 24 h
charts read), and raw samples only after a boundary minute `B` 30 to 90 minutes ago.
`RollupState` then says "rolled up until B", so readers take rollups before B and raw samples
after it, and the next rollup run starts at B; the rollups are folded into the running totals
of /metrics as the rollup job would have folded them. Each rollup row is computed from the same
samples a real run would have seen (same count/sum/min/max/last and sketch); minute rollups
older than a day are left out, as if pruned early. Live minutes go through `samples_write`,
the write path of the ingest API and the in-process flusher.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import transaction
from django.db.models import Min

from monitoring.ingest import metric_kinds, samples_write
from monitoring.labels import labels_checked_key
from monitoring.models import HourRollup, MetricSample, MinuteRollup, RollupState
from monitoring.query import HOUR, MINUTE, ROLLUP_STATE_KEY, floor_hour, floor_minute, rollup_watermark
from monitoring.totals import totals_fold_written
from portal.demo.bulk import json_value, rollup_groups, rows_insert
from portal.demo.traffic import HELP, KINDS, QUEUE_DEPTH, SLOT, Scenario, floor_slot, samples_between
from portal.models import Service

HISTORY = timedelta(days=7, hours=1)
MINUTE_HISTORY = timedelta(hours=24)
RAW_AT_LEAST = timedelta(minutes=30)  # raw samples cover the last 30-90 minutes
RAW_AT_MOST = timedelta(hours=3)  # ... even when rollups lag far behind
LIVE_CATCH_UP = timedelta(minutes=20)  # live samples fill a gap this long at most (workers stopped)


def history_exists(service: Service) -> bool:
    return (
        HourRollup.objects.filter(service=service, name=QUEUE_DEPTH).exists()
        or MetricSample.objects.filter(service=service, name=QUEUE_DEPTH).exists()
    )


def _boundary(now: datetime) -> datetime:
    """The minute B: rollups are written before it, raw samples from it on.

    B must not be after the rollup watermark: readers take raw samples there, and the next run
    would replace minute rollups written there by what it rolls from raw samples. Before any run,
    B becomes the watermark; after some, raw samples written before the watermark mark their
    minutes dirty (`samples_write`), which moves it back to B: the late-sample path of ingest."""
    wanted = floor_hour(now - RAW_AT_LEAST)
    state, _ = RollupState.objects.select_for_update().get_or_create(key=ROLLUP_STATE_KEY)
    mark = rollup_watermark()
    if mark is not None:
        return min(wanted, floor_minute(mark))
    earliest = MetricSample.objects.aggregate(t=Min("time"))["t"]  # other services' samples
    boundary = min(wanted, floor_minute(earliest)) if earliest else wanted
    RollupState.objects.filter(pk=state.pk).update(rolled_until=boundary, claimed_until=boundary, updated_at=now)
    return boundary


ROLLUP_FIELDS = ("service", "name", "labels", "labels_hash", "start", "count", "sum", "min", "max", "last", "sketch")


class _Writer:
    """Splits generated samples into hour rollups, minute rollups and raw rows."""

    def __init__(self, service: Service, *, boundary: datetime, minute_from: datetime, raw_from: datetime):
        self.service_id = service.pk
        self.boundary, self.minute_from, self.raw_from = boundary, minute_from, raw_from
        self.hours: list[tuple] = []
        self.minutes: list[tuple] = []
        self.raw: list[tuple] = []
        self.keys: dict = {}
        self.series: set[tuple[str, str]] = set()  # (name, labels hash) written

    def add_hour(self, hour: datetime, samples: dict) -> None:
        hour_ts = hour.timestamp()
        minutes = int(min(HOUR, max(self.boundary - hour, timedelta(0))) / MINUTE)
        for (name, items), (times, values) in samples.items():
            key = self.keys.get(items)
            if key is None:
                labels, canonical, digest = labels_checked_key(dict(items))
                key = self.keys[items] = (json_value(labels), canonical, digest)
            labels, canonical, digest = key
            series = (self.service_id, name, labels, digest)
            self.series.add((name, digest))
            if hour + HOUR <= self.boundary:
                (row,) = rollup_groups(values, [0, len(values)])
                self.hours.append((*series, hour, *row))
            if hour >= self.minute_from and minutes:
                edges = np.searchsorted(times, hour_ts + 60.0 * np.arange(minutes + 1))
                for minute, row in enumerate(rollup_groups(values, edges)):
                    if row is not None:
                        self.minutes.append((*series, hour + minute * MINUTE, *row))
            if hour + HOUR > self.raw_from:
                recent = times >= self.raw_from.timestamp()
                self.raw.extend(_raw_rows(self.service_id, name, canonical, digest, times[recent], values[recent]))

    def save(self) -> dict:
        rows_insert(HourRollup, ROLLUP_FIELDS, self.hours)
        rows_insert(MinuteRollup, ROLLUP_FIELDS, self.minutes)
        # /metrics counts what is before the boundary from the running totals, as if rolled up.
        totals_fold_written(service_id=self.service_id, series=self.series, until=self.boundary)
        samples_write(self.raw)
        return {"hour rollups": len(self.hours), "minute rollups": len(self.minutes), "raw samples": len(self.raw)}


def _raw_rows(service_id, name, canonical, digest, times, values) -> list[tuple]:
    return [
        (service_id, name, canonical, digest, value, datetime.fromtimestamp(moment, tz=UTC))
        for moment, value in zip(times.tolist(), values.tolist(), strict=True)
    ]


def history_write(*, service: Service, now: datetime, scenario: Scenario, rng: np.random.Generator) -> dict:
    """Write the week before `now` (nothing at or after it). Returns row counts."""
    metric_kinds(KINDS, HELP)
    boundary = _boundary(now)
    writer = _Writer(
        service,
        boundary=boundary,
        minute_from=floor_hour(now - MINUTE_HISTORY),
        raw_from=max(boundary, floor_slot(now - RAW_AT_MOST)),
    )
    end = floor_slot(now)
    hour = floor_hour(now - HISTORY)
    while hour < end:
        writer.add_hour(hour, samples_between(hour, min(hour + HOUR, end), scenario, rng))
        hour += HOUR
    return writer.save()


def series_history_write(*, service: Service, now: datetime, series: dict) -> dict:
    """History of other series (the demo checks' latency) stored like `history_write`'s:
    `series` maps (name, label items) to (epoch seconds, values), both sorted by time."""
    with transaction.atomic():
        boundary = _boundary(now)
        writer = _Writer(
            service,
            boundary=boundary,
            minute_from=floor_hour(now - MINUTE_HISTORY),
            raw_from=max(boundary, floor_slot(now - RAW_AT_MOST)),
        )
        hour, end = floor_hour(now - HISTORY), floor_slot(now)
        while hour < end:
            low, high = hour.timestamp(), min(hour + HOUR, end).timestamp()
            part = {}
            for key, (times, values) in series.items():
                inside = (times >= low) & (times < high)
                if inside.any():
                    part[key] = (times[inside], values[inside])
            writer.add_hour(hour, part)
            hour += HOUR
        return writer.save()


def live_write(*, service: Service, now: datetime, rng: np.random.Generator | None = None) -> int:
    """Samples for the whole flush slots since the last one written (a gap of at most
    LIVE_CATCH_UP), as the shop's own flusher would have sent them. Safe to run twice."""
    # Walks the (name, time) index backwards: the demo's gauge is the newest row of its name.
    latest = MetricSample.objects.filter(name=QUEUE_DEPTH, service=service).order_by("-time")
    last = latest.values_list("time", flat=True).first()
    end = floor_slot(now)
    after = end - MINUTE if last is None else floor_slot(last) + timedelta(seconds=SLOT)
    start = max(floor_slot(now - LIVE_CATCH_UP), after)
    samples = samples_between(start, end, Scenario.around(now), rng or np.random.default_rng())
    if not samples:
        return 0
    metric_kinds(KINDS, HELP)
    rows = []
    for (name, items), (times, values) in samples.items():
        _, canonical, digest = labels_checked_key(dict(items))
        rows.extend(_raw_rows(service.pk, name, canonical, digest, times, values))
    return samples_write(rows)
