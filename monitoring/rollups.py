"""Minute and hour rollups, and pruning of expired data.

`rollup_run` reads raw samples of a bounded window of whole minutes *outside* any transaction,
then, in one short transaction holding the RollupState row, replaces the minute rollups of that
window, recomputes the hour rollups of the hours it touches from minute rollups, and advances
the watermark. Replacing (delete + insert) makes a rerun of a window produce the same rows.
"""

import json
import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from monitoring.models import (
    HealthCheckResult,
    HeartbeatPing,
    HourRollup,
    IngestBatch,
    MetricSample,
    MetricTotal,
    MinuteRollup,
    RollupState,
)
from monitoring.query import HOUR, MINUTE, ROLLUP_STATE_KEY, floor_hour, floor_minute, rollup_watermark
from monitoring.sketches import sketch_dumps, sketch_loads, sketch_new

logger = logging.getLogger(__name__)


class _Acc:
    """count/sum/min/max/last and a sketch, fed sample by sample (or merged from rollups)."""

    __slots__ = ("count", "labels", "last", "max", "min", "sketch", "sum")

    def __init__(self, labels: dict):
        self.labels = labels
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")
        self.last = 0.0
        self.sketch = sketch_new()

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        self.last = value
        self.sketch.add(value)

    def merge(self, row) -> None:
        self.count += row.count
        self.sum += row.sum
        self.min = min(self.min, row.min)
        self.max = max(self.max, row.max)
        self.last = row.last  # rows arrive in time order
        self.sketch.merge(sketch_loads(bytes(row.sketch)))

    def row(self, model, service_id, name, digest, start):
        return model(
            service_id=service_id,
            name=name,
            labels=self.labels,
            labels_hash=digest,
            start=start,
            count=self.count,
            sum=self.sum,
            min=self.min,
            max=self.max,
            last=self.last,
            sketch=sketch_dumps(self.sketch),
        )


def _minute_rows(start: datetime, end: datetime) -> list[MinuteRollup]:
    accs: dict[tuple, _Acc] = {}
    labels_of: dict[tuple, dict] = {}
    rows = (
        MetricSample.objects.filter(time__gte=start, time__lt=end)
        .annotate(labels_text=Cast("labels", TextField()))  # decoded once per series, not per row
        .order_by("time", "id")
        .values_list("service_id", "name", "labels_hash", "labels_text", "time", "value")
    )
    for service_id, name, digest, text, moment, value in rows.iterator(chunk_size=5000):
        key = (service_id, name, digest, floor_minute(moment))
        acc = accs.get(key)
        if acc is None:
            labels = labels_of.get((service_id, digest))
            if labels is None:
                labels = labels_of[(service_id, digest)] = json.loads(text) if text else {}
            acc = accs[key] = _Acc(labels)
        acc.add(value)
    return [acc.row(MinuteRollup, *key) for key, acc in accs.items()]


def _hour_rows(first_hour: datetime, end_hour: datetime) -> list[HourRollup]:
    accs: dict[tuple, _Acc] = {}
    minutes = MinuteRollup.objects.filter(start__gte=first_hour, start__lt=end_hour).order_by("start")
    for row in minutes.iterator(chunk_size=2000):
        key = (row.service_id, row.name, row.labels_hash, floor_hour(row.start))
        acc = accs.get(key)
        if acc is None:
            acc = accs[key] = _Acc(row.labels)
        acc.merge(row)
    return [acc.row(HourRollup, *key) for key, acc in accs.items()]


def _window(state: RollupState, now: datetime) -> tuple[datetime, datetime]:
    end = floor_minute(now - timedelta(seconds=settings.METRICS_ROLLUP_DELAY_SECONDS))
    if state.rolled_until is None:
        earliest = MetricSample.objects.aggregate(t=Min("time"))["t"]
        start = floor_minute(earliest) if earliest else end
    else:
        start = floor_minute(min(state.rolled_until, state.dirty_since or state.rolled_until))
    return start, min(end, start + settings.METRICS_ROLLUP_MAX_MINUTES * MINUTE)


def rollup_run(*, now: datetime | None = None) -> dict:
    """Roll up the next window of whole minutes (bounded); safe to run concurrently and again."""
    now = now or timezone.now()
    state, _ = RollupState.objects.get_or_create(key=ROLLUP_STATE_KEY)
    start, end = _window(state, now)
    if start >= end:
        return {"minutes": 0, "rows": 0}
    minute_rows = _minute_rows(start, end)
    with transaction.atomic():
        current = RollupState.objects.select_for_update().get(pk=state.pk)
        if current.rolled_until != state.rolled_until:
            return {"minutes": 0, "rows": 0, "raced": True}  # another worker rolled this window
        MinuteRollup.objects.filter(start__gte=start, start__lt=end).delete()
        MinuteRollup.objects.bulk_create(minute_rows, batch_size=500)
        first_hour, end_hour = floor_hour(start), floor_hour(end - MINUTE) + HOUR
        HourRollup.objects.filter(start__gte=first_hour, start__lt=end_hour).delete()
        HourRollup.objects.bulk_create(_hour_rows(first_hour, end_hour), batch_size=500)
        rolled_until = max(current.rolled_until or end, end)
        # A late sample that arrived while we computed keeps its mark: that window is redone next run.
        late = current.dirty_since != state.dirty_since
        dirty = current.dirty_since if late else (end if end < rolled_until else None)
        RollupState.objects.filter(pk=state.pk).update(rolled_until=rolled_until, dirty_since=dirty, updated_at=now)
    return {"minutes": int((end - start) / MINUTE), "rows": len(minute_rows), "start": start, "end": end}


def _delete_batches(queryset, batch: int, max_batches: int = 20) -> int:
    """Delete in primary-key batches so no statement holds locks on millions of rows."""
    deleted = 0
    for _ in range(max_batches):
        ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            break
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            break
    return deleted


def _fold_hours_into_totals(cutoff: datetime, batch: int) -> int:
    """Prune hour rollups older than cutoff, adding their count/sum to MetricTotal first, so
    cumulative counters in /metrics never go down when old data goes."""
    ids = list(HourRollup.objects.filter(start__lt=cutoff).order_by("start").values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    with transaction.atomic():
        chunk = HourRollup.objects.filter(pk__in=ids)
        sums = chunk.values("service_id", "name", "labels_hash").annotate(c=Sum("count"), s=Sum("sum"))
        labels = {tuple(r[:3]): r[3] for r in chunk.values_list("service_id", "name", "labels_hash", "labels")}
        for row in sums:
            key = (row["service_id"], row["name"], row["labels_hash"])
            total, _ = MetricTotal.objects.select_for_update().get_or_create(
                service_id=key[0], name=key[1], labels_hash=key[2], defaults={"labels": labels[key], "until": cutoff}
            )
            total.count += row["c"]
            total.sum += row["s"]
            total.until = max(total.until, cutoff)
            total.save(update_fields=["count", "sum", "until"])
        return chunk.delete()[0]


def _fold_all(cutoff: datetime, batch: int, max_batches: int = 20) -> int:
    deleted = 0
    for _ in range(max_batches):
        done = _fold_hours_into_totals(cutoff, batch)
        deleted += done
        if done < batch:
            break
    return deleted


def prune_run(*, now: datetime | None = None) -> dict:
    """Delete expired raw samples, rollups, results, pings and idempotency keys, in batches.

    Raw samples not yet rolled up and minute rollups not yet in an hour rollup are kept even when
    expired, so a stuck rollup job never loses data."""
    now = now or timezone.now()
    batch = settings.METRICS_PRUNE_BATCH
    # Before the first rollup run nothing is rolled up: keep everything (the epoch is "no cut").
    mark = rollup_watermark() or datetime.min.replace(tzinfo=UTC)
    raw_cut = min(now - timedelta(days=settings.METRICS_RAW_RETENTION_DAYS), mark)
    minute_cut = min(now - timedelta(days=settings.METRICS_MINUTE_RETENTION_DAYS), floor_hour(mark))
    hour_cut = now - timedelta(days=settings.METRICS_HOUR_RETENTION_DAYS)
    results_cut = now - timedelta(days=settings.HEALTH_RESULT_RETENTION_DAYS)
    done = {
        "raw": _delete_batches(MetricSample.objects.filter(time__lt=raw_cut), batch),
        "minute": _delete_batches(MinuteRollup.objects.filter(start__lt=minute_cut), batch),
        "hour": _fold_all(hour_cut, batch),
        "results": _delete_batches(HealthCheckResult.objects.filter(created_at__lt=results_cut), batch),
        "pings": _delete_batches(HeartbeatPing.objects.filter(created_at__lt=results_cut), batch),
        "ingest_keys": _delete_batches(IngestBatch.objects.filter(created_at__lt=now - timedelta(days=1)), batch),
    }
    logger.info("pruned %s", done)
    return done


def series_count() -> int:
    """Distinct series with raw samples (for the monitoring overview)."""
    return MetricSample.objects.values("service_id", "name", "labels_hash").distinct().aggregate(n=Count("*"))["n"]
