"""Minute and hour rollups, and pruning of expired data.

`rollup_run` first claims a bounded window of whole minutes (a short transaction: a lease, and
`claimed_until` so sample writes for those minutes mark them dirty from then on), reads the raw
samples of the window outside any lock, then, in one short transaction holding the RollupState
row, replaces the minute rollups of that window, recomputes the hour rollups of the hours it
touches (see below), folds the new minutes into the running totals (`monitoring.totals`)
and advances the watermark. Replacing (delete + insert) makes a rerun of a window produce the same
rows, and the totals take off what a rerun replaces.

Hour rollups are kept incrementally. An ordinary run starts where the previous one ended and no
minute of its window was rolled before, so each touched hour rollup already holds exactly the
minutes before the window: the new minutes are folded into it (count and min/max combine, the
sketch bins add up, `last` is the newest minute's). A redo (a late sample moved the watermark
back, a window after a redo, the first run) rebuilds its hours from all their minute rollups. The
hour's `sum` (and its sketch's) is defined as the minute sums added one at a time in time order,
each addition correctly rounded, so folding and rebuilding give the same bits; it differs from a
single `fsum` of the minutes by a few ulps at most.
"""

import itertools
import json
import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from monitoring.models import (
    HealthCheckResult,
    HeartbeatPing,
    HourRollup,
    IngestBatch,
    MetricSample,
    MinuteRollup,
    RollupState,
)
from monitoring.query import (
    HOUR,
    MINUTE,
    ROLLUP_LOCK_KEY,
    ROLLUP_STATE_KEY,
    floor_hour,
    floor_minute,
    rollup_watermark,
)
from monitoring.sketches import sketch_dumps, sketch_from_values, sketch_loads, sketch_merge_all
from monitoring.totals import folded_rows, totals_fold
from portal.demo.bulk import json_value, rows_insert
from portal.lib.finite import finite_sum

logger = logging.getLogger(__name__)
# A run that has not finished after this long is presumed dead; the next run takes its window over.
ROLLUP_LEASE = timedelta(minutes=15)


class _Acc:
    """Values of one series in one period (minute), or the minute rollups of one hour."""

    __slots__ = ("labels", "rows", "values")

    def __init__(self, labels: dict):
        self.labels = labels
        self.values: list[float] = []  # raw values in time order
        self.rows: list = []  # (minute rollup, its sketch or None when stored)

    def minute_row(self, service_id, name, digest, start) -> MinuteRollup:
        values = self.values
        sketch = sketch_from_values(values)
        row = MinuteRollup(
            service_id=service_id,
            name=name,
            labels=self.labels,
            labels_hash=digest,
            start=start,
            count=len(values),
            sum=finite_sum(values),
            min=min(values),
            max=max(values),
            last=values[-1],
            sketch=sketch_dumps(sketch),
        )
        return row, sketch

    def hour_row(self, service_id, name, digest, start) -> HourRollup:
        """The hour rollup of the rows (minute rollups, or the stored hour rollup holding the
        minutes before them), combined in time order."""
        pairs = sorted(self.rows, key=lambda pair: pair[0].start)
        rows = [row for row, _ in pairs]
        sketches = [sketch or sketch_loads(bytes(row.sketch)) for row, sketch in pairs]
        merged = sketch_merge_all(sketches)
        merged._sum = time_ordered_sum([s._sum for s in sketches if s.count])
        return HourRollup(
            service_id=service_id,
            name=name,
            labels=self.labels,
            labels_hash=digest,
            start=start,
            count=sum(r.count for r in rows),
            sum=time_ordered_sum([r.sum for r in rows]),
            min=min(r.min for r in rows),
            max=max(r.max for r in rows),
            last=rows[-1].last,
            sketch=sketch_dumps(merged),
        )


def time_ordered_sum(parts: list[float]) -> float:
    """The parts added one at a time, in order: a running total folded a minute at a time
    equals one computed over the whole hour, bit for bit (a single fsum would not)."""
    total = parts[0] if parts else 0.0
    for part in parts[1:]:
        total = finite_sum([total, part])
    return total


def _scan_sql() -> str:
    """Raw samples of a window in time order, with the minute computed by the database: as
    text on SQLite (no per-row datetime parsing in Python), as a timestamp on PostgreSQL."""
    quote = connection.ops.quote_name
    time_col = quote("time")
    if connection.vendor == "postgresql":
        labels, minute = "labels::text", f"date_trunc('minute', {time_col})"
    else:
        labels, minute = "labels", f"substr({time_col}, 1, 16)"
    table = quote(MetricSample._meta.db_table)
    return (
        f"SELECT service_id, name, labels_hash, {labels}, {minute}, value FROM {table} "  # noqa: S608
        f"WHERE {time_col} >= %s AND {time_col} < %s ORDER BY {time_col}, id"
    )


def _minute_rows(start: datetime, end: datetime) -> list[tuple[MinuteRollup, object]]:
    """(minute rollup, its sketch) for every series and minute in [start, end).

    Raw SQL through a chunked (server-side on PostgreSQL) cursor: the ORM's per-row datetime
    and JSON converters cost more than everything else here. Labels are decoded once per series."""
    accs: dict[tuple, _Acc] = {}
    labels_of: dict[tuple, dict] = {}
    sqlite = connection.vendor == "sqlite"
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(_scan_sql(), [adapt(start), adapt(end)])
        while batch := cursor.fetchmany(10_000):
            for service_id, name, digest, text, minute, value in batch:
                key = (service_id, name, digest, minute)
                acc = accs.get(key)
                if acc is None:
                    labels = labels_of.get((service_id, digest))
                    if labels is None:
                        labels = labels_of[(service_id, digest)] = json.loads(text) if text else {}
                    acc = accs[key] = _Acc(labels)
                acc.values.append(value)
    out = []
    for (service_id, name, digest, minute), acc in accs.items():
        if sqlite:
            minute = datetime.fromisoformat(minute).replace(tzinfo=UTC)
        out.append(acc.minute_row(service_id, name, digest, minute))
    return out


def _hour_rows(first_hour: datetime, start: datetime, end: datetime, end_hour: datetime, fresh) -> list[HourRollup]:
    """Hour rollups of [first_hour, end_hour) from minute rollups: the `fresh` (row, sketch) pairs
    just computed for [start, end), and the stored ones around them (before `start`, and after
    `end` when a late sample made us redo minutes inside an already rolled-up hour)."""
    accs: dict[tuple, _Acc] = {}
    columns = ("service_id", "name", "labels_hash", "labels", "start", "count", "sum", "min", "max", "last", "sketch")
    around = Q(start__lt=start) | Q(start__gte=end)
    older = (
        MinuteRollup.objects.filter(start__gte=first_hour, start__lt=end_hour)
        .filter(around)
        .order_by("start")
        .values_list(*columns)
    )
    stored = ((MinuteRollup(**dict(zip(columns, values, strict=True))), None) for values in older.iterator(2000))
    for row, sketch in itertools.chain(stored, fresh):
        key = (row.service_id, row.name, row.labels_hash, floor_hour(row.start))
        acc = accs.get(key)
        if acc is None:
            acc = accs[key] = _Acc(row.labels)
        acc.rows.append((row, sketch))
    return [acc.hour_row(*key) for key, acc in accs.items() if key[3] < end_hour]


def _hour_rows_folded(first_hour: datetime, end_hour: datetime, fresh) -> tuple[list[int], list[HourRollup]]:
    """(ids to delete, rows to insert): the stored hour rollups of [first_hour, end_hour) with the
    `fresh` minute rollups folded in. Only for a window after every minute rolled up so far: then
    a stored hour rollup holds exactly its hour's minutes before the window. Reads one row per
    series and touched hour, whatever the hour's age."""
    accs: dict[tuple, _Acc] = {}
    for row, sketch in fresh:
        key = (row.service_id, row.name, row.labels_hash, floor_hour(row.start))
        acc = accs.get(key)
        if acc is None:
            acc = accs[key] = _Acc(row.labels)
        acc.rows.append((row, sketch))
    columns = ("id", "service_id", "name", "labels_hash", "start", "count", "sum", "min", "max", "last", "sketch")
    stored = HourRollup.objects.filter(start__gte=first_hour, start__lt=end_hour).values_list(*columns)
    replaced = []
    for pk, service_id, name, digest, start, *rest in stored.iterator(2000):
        acc = accs.get((service_id, name, digest, start))
        if acc is None:
            continue  # no new minute for this series: the row stays as it is
        replaced.append(pk)
        values = dict(zip(columns[5:], rest, strict=True))
        acc.rows.insert(0, (MinuteRollup(start=start, **values), None))  # before its minutes
    return replaced, [acc.hour_row(*key) for key, acc in accs.items()]


_ROW_FIELDS = ("service", "name", "labels", "labels_hash", "start", "count", "sum", "min", "max", "last", "sketch")


def _insert(model, rows: list) -> None:
    """INSERT the rollup rows with executemany: Django's bulk_create prepares every field of every
    row in Python, which was ~45 % of an ordinary run (10,000 series write 20,000 rows)."""
    rows_insert(
        model,
        _ROW_FIELDS,
        [
            (r.service_id, r.name, json_value(r.labels), r.labels_hash, r.start, r.count, r.sum, r.min, r.max, r.last,
             r.sketch)
            for r in rows
        ],
    )  # fmt: skip


def _window(state: RollupState, now: datetime) -> tuple[datetime, datetime]:
    end = floor_minute(now - timedelta(seconds=settings.METRICS_ROLLUP_DELAY_SECONDS))
    if state.rolled_until is None:
        earliest = MetricSample.objects.aggregate(t=Min("time"))["t"]
        start = floor_minute(earliest) if earliest else end
    else:
        start = floor_minute(min(state.rolled_until, state.dirty_since or state.rolled_until))
    return start, min(end, start + settings.METRICS_ROLLUP_MAX_MINUTES * MINUTE)


def _claim(now: datetime) -> tuple[int, datetime, datetime, bool] | None:
    """Take the rollup lease and the next window, committed before any raw sample is read.

    From this commit on, a sample written for a minute of the window marks `dirty_since`
    (writers compare with `claimed_until`), so one the scan cannot see is redone by the next run.
    `dirty_since` restarts empty: this run covers every mark before its start. On PostgreSQL the
    exclusive advisory lock waits for sample writes in flight, which decided whether to mark
    before this claim was visible to them (see `monitoring.ingest.samples_write`)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK_KEY])
        state, _ = RollupState.objects.select_for_update().get_or_create(key=ROLLUP_STATE_KEY)
        if state.claimed_at is not None and state.claimed_at > now - ROLLUP_LEASE:
            return None  # another run holds the lease
        start, end = _window(state, now)
        if start >= end:
            return None
        # The window goes on from where the last run ended (not after a late sample, nor the first).
        resumed = state.rolled_until is not None and state.rolled_until == start
        # rolled_until moves back to the window's start: readers keep reading raw samples from
        # there (as min(rolled_until, dirty_since) already told them) until the new rows commit.
        RollupState.objects.filter(pk=state.pk).update(
            rolled_until=start,
            dirty_since=None,
            claimed_until=max(state.claimed_until or end, end),
            claimed_at=now,
            updated_at=now,
        )
    return state.pk, start, end, resumed


def rollup_run(*, now: datetime | None = None) -> dict:
    """Roll up the next window of whole minutes (bounded); safe to run concurrently and again.

    One run at a time holds the claim (a lease of ROLLUP_LEASE, taken over after a crash); a run
    whose lease was taken over writes nothing."""
    now = now or timezone.now()
    claimed = _claim(now)
    if claimed is None:
        return {"minutes": 0, "rows": 0}
    pk, start, end, resumed = claimed
    try:
        return _rollup_claimed(pk, start, end, now, resumed=resumed)
    except Exception:
        # Release the lease at once so the next minute's run retries (and not 15 minutes later).
        RollupState.objects.filter(pk=pk, claimed_at=now).update(claimed_at=None)
        raise


def _rollup_claimed(pk: int, start: datetime, end: datetime, now: datetime, *, resumed: bool) -> dict:
    minute_rows = _minute_rows(start, end)
    with transaction.atomic():
        current = RollupState.objects.select_for_update().get(pk=pk)
        if current.claimed_at != now or current.rolled_until != start:
            if current.claimed_at == now:  # still ours: let the next run start at once
                RollupState.objects.filter(pk=pk).update(claimed_at=None)
            return {"minutes": 0, "rows": 0, "raced": True}  # another worker took over this window
        folded = current.totals_until
        # Minutes of this window already in the totals (a redo after late samples) come off them.
        replaced = folded_rows(start, min(end, folded)) if folded else []
        MinuteRollup.objects.filter(start__gte=start, start__lt=end).delete()
        _insert(MinuteRollup, [row for row, _ in minute_rows])
        first_hour, end_hour = floor_hour(start), floor_hour(end - MINUTE) + HOUR
        if resumed and folded is not None and start >= folded:
            # No minute of the window was rolled up before: fold the new minutes in.
            replaced_hours, hour_rows = _hour_rows_folded(first_hour, end_hour, minute_rows)
            for at in range(0, len(replaced_hours), 500):
                HourRollup.objects.filter(pk__in=replaced_hours[at : at + 500]).delete()
        else:
            hour_rows = _hour_rows(first_hour, start, end, end_hour, minute_rows)
            HourRollup.objects.filter(start__gte=first_hour, start__lt=end_hour).delete()
        _insert(HourRollup, hour_rows)
        # A redo ends before `folded`; the minutes between stay in the totals as they were.
        folded = max(folded or end, end)
        added = [(r.service_id, r.name, r.labels_hash, r.labels, r.count, r.sum) for r, _ in minute_rows]
        totals_fold(added=added, removed=replaced, until=folded)
        # dirty_since keeps what samples written during the scan marked. Minutes after `end`
        # rolled by an earlier run are redone too (rolled_until = end): a late sample there could
        # not mark them while dirty_since was before it.
        RollupState.objects.filter(pk=pk).update(rolled_until=end, totals_until=folded, claimed_at=None, updated_at=now)
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


def prune_run(*, now: datetime | None = None) -> dict:
    """Delete expired raw samples, rollups, results, pings and idempotency keys, in batches.

    Raw samples not yet rolled up and minute rollups not yet in an hour rollup are kept even when
    expired, so a stuck rollup job never loses data. Running totals are never pruned."""
    now = now or timezone.now()
    batch = settings.METRICS_PRUNE_BATCH
    # Before the first rollup run nothing is rolled up: keep everything (the epoch is "no cut").
    mark = rollup_watermark() or datetime.min.replace(tzinfo=UTC)
    raw_cut = min(now - timedelta(days=settings.METRICS_RAW_RETENTION_DAYS), mark)
    # Minute rollups live at least as long as raw samples may still arrive for their minute: a
    # late one makes /metrics take its folded minute off the totals again (monitoring.totals).
    minute_days = max(settings.METRICS_MINUTE_RETENTION_DAYS, settings.METRICS_RAW_RETENTION_DAYS)
    minute_cut = min(now - timedelta(days=minute_days), floor_hour(mark))
    hour_cut = now - timedelta(days=settings.METRICS_HOUR_RETENTION_DAYS)
    results_cut = now - timedelta(days=settings.HEALTH_RESULT_RETENTION_DAYS)
    done = {
        "raw": _delete_batches(MetricSample.objects.filter(time__lt=raw_cut), batch),
        "minute": _delete_batches(MinuteRollup.objects.filter(start__lt=minute_cut), batch),
        # Every rolled-up minute is in the running totals already: counters lose nothing.
        "hour": _delete_batches(HourRollup.objects.filter(start__lt=hour_cut), batch),
        "results": _delete_batches(HealthCheckResult.objects.filter(created_at__lt=results_cut), batch),
        "pings": _delete_batches(HeartbeatPing.objects.filter(created_at__lt=results_cut), batch),
        "ingest_keys": _delete_batches(IngestBatch.objects.filter(created_at__lt=now - timedelta(days=1)), batch),
    }
    logger.info("pruned %s", done)
    return done
