"""Running totals of cumulative series (counters, histograms, timers) for /metrics.

MetricTotal holds, per series that is not a gauge, the count and sum of every minute rollup before
`RollupState.totals_until` (F), including minutes pruned since. The rollup job keeps it so in the
transaction that replaces minute rollups, under the RollupState row lock: it adds the minutes it
wrote, takes off those it replaced below F (a redo after a late sample), and moves F to the end of
its window. History written straight into the rollup tables (the demo) is folded by
`totals_fold_written`. Pruning deletes rollups and never touches totals.

Reading, with the watermark W = min(rolled_until, dirty_since) <= F:

    total = MetricTotal - minute rollups in [W, F) + raw samples from W on

Normally W == F: the totals plus the few minutes of raw samples not rolled up yet. A late sample
moves W back below F until the next run redoes its minute: from W on raw samples are the truth,
and the folded rollups of those minutes are taken off again. This needs the minute rollups of
[W, F) to exist exactly when their raw samples do: samples older than the raw retention are
refused, and pruning keeps minute rollups at least that long.

One SQL statement reads all of it, the boundaries included, so it sees one snapshot: a rollup or a
prune committing meanwhile cannot make a counter count twice or go down.
"""

import contextlib
import functools
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import DataError, connection, transaction

from monitoring.models import HourRollup, Metric, MetricKind, MetricSample, MetricTotal, MinuteRollup, RollupState
from monitoring.query import ROLLUP_STATE_KEY, LabelKey, label_key
from portal.lib.finite import finite_sum
from portal.models import Service

# (service_id, name, labels_hash) of a stored series
SeriesId = tuple[int, str, str]


def totals_fold_written(*, service_id: int, series: set[tuple[str, str]], until: datetime) -> int:
    """Fold rollups written straight into the tables (the demo's history: what the rollup job
    would have left) of these (name, labels_hash) series of a service, for the minutes before
    `until`: hour rollups of the complete hours, minute rollups from there. `until` must not be
    after totals_until; it becomes totals_until when none was set. Call it holding the
    RollupState row, in the transaction that wrote the rows."""
    hour = until.replace(minute=0, second=0, microsecond=0)
    names = {name for name, _ in series}
    columns = ("service_id", "name", "labels_hash", "labels", "count", "sum")
    hours = HourRollup.objects.filter(service_id=service_id, name__in=names, start__lt=hour)
    minutes = MinuteRollup.objects.filter(service_id=service_id, name__in=names, start__gte=hour, start__lt=until)
    rows = [row for queryset in (hours, minutes) for row in queryset.values_list(*columns) if row[1:3] in series]
    written = totals_fold(added=rows, removed=[], until=until)
    RollupState.objects.filter(key=ROLLUP_STATE_KEY, totals_until__isnull=True).update(totals_until=until)
    return written


def folded_rows(start: datetime, end: datetime) -> list[tuple]:
    """(service_id, name, labels_hash, labels, count, sum) of the stored minute rollups in
    [start, end): read before a rollup run replaces them, to take them off the totals."""
    if start >= end:
        return []
    rows = MinuteRollup.objects.filter(start__gte=start, start__lt=end)
    return list(rows.values_list("service_id", "name", "labels_hash", "labels", "count", "sum"))


def totals_fold(*, added: list[tuple], removed: list[tuple], until: datetime) -> int:
    """Add the rollups `added` to the running totals and take `removed` off, both as
    (service_id, name, labels_hash, labels, count, sum) tuples; gauges are left out. Call it in the
    transaction that writes those rollups, holding the RollupState row. Returns the number of
    totals written."""
    changes: dict[SeriesId, list] = {}  # -> [labels, count, sum parts]
    for service_id, name, digest, labels, count, part in added:
        entry = changes.setdefault((service_id, name, digest), [labels, 0, []])
        entry[1] += count
        entry[2].append(part)
    for service_id, name, digest, labels, count, part in removed:
        entry = changes.setdefault((service_id, name, digest), [labels, 0, []])
        entry[1] -= count
        entry[2].append(-part)
    names = {key[1] for key in changes}
    if not names:
        return 0
    # A name's kind never changes once stored; a name not registered (yet) is folded all the same.
    gauges = set(Metric.objects.filter(name__in=names, kind=MetricKind.GAUGE).values_list("name", flat=True))
    current = {
        (service_id, name, digest): (count, total)
        for service_id, name, digest, count, total in MetricTotal.objects.filter(name__in=names - gauges).values_list(
            "service_id", "name", "labels_hash", "count", "sum"
        )
    }
    updates, new = [], []
    stamp = connection.ops.adapt_datetimefield_value(until)
    for key, (labels, count, parts) in changes.items():
        if key[1] in gauges:
            continue
        old = current.get(key)
        # Summed here rather than by SQL: PostgreSQL raises on a float overflow (possible with rows
        # stored before values were bounded) and the rollup would stop for good.
        total = finite_sum([old[1], *parts]) if old else finite_sum(parts)
        if old:
            updates.append((old[0] + count, total, *key))
        else:
            new.append(
                MetricTotal(
                    service_id=key[0],
                    name=key[1],
                    labels_hash=key[2],
                    labels=labels,
                    count=count,
                    sum=total,
                    until=until,
                )
            )
    if updates:
        _update_totals(updates, stamp)
    # Only the rollup run holding the RollupState row writes totals: no other insert can race this.
    MetricTotal.objects.bulk_create(new, batch_size=500)
    return len(updates) + len(new)


def _update_totals(updates: list[tuple], stamp) -> None:
    """(count, sum, service_id, name, labels_hash) rows: raw SQL, because bulk_update or an upsert
    through the ORM spends ~0.3 ms per row building SQL, and every series with a sample in the
    window changes on every run."""
    quote = connection.ops.quote_name
    table = quote(MetricTotal._meta.db_table)
    count, summed, until = quote("count"), quote("sum"), quote("until")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement over arrays: executemany through Django's client-side cursor is a
            # round trip per row.
            columns = list(zip(*updates, strict=True))
            cursor.execute(
                f"UPDATE {table} t SET {count} = v.c, {summed} = v.s, {until} = %s "  # noqa: S608
                "FROM unnest(%s::float8[], %s::float8[], %s::bigint[], %s::text[], %s::text[]) "
                "AS v(c, s, service_id, name, labels_hash) "
                "WHERE t.service_id = v.service_id AND t.name = v.name AND t.labels_hash = v.labels_hash",
                [stamp, *(list(column) for column in columns)],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET {count} = %s, {summed} = %s, {until} = %s "  # noqa: S608
                "WHERE service_id = %s AND name = %s AND labels_hash = %s",
                [(c, s, stamp, *key) for c, s, *key in updates],
            )


def _totals_sql(numeric: bool) -> str:
    """Three parts per series, each grouped on its own (one sort of every row together costs
    twice as much on SQLite) and added up in Python."""
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    labels = "x.labels::text" if postgres else "x.labels"
    # Exact on PostgreSQL when the float sum overflowed (rows stored before values were bounded).
    value = "{}::numeric" if numeric else "{}"
    total, sample, minute = (
        quote(model._meta.db_table) for model in (MetricTotal, MetricSample, MinuteRollup)
    )  # fmt: skip
    state, metric, service = (quote(model._meta.db_table) for model in (RollupState, Metric, Service))
    count, summed, start, time = (quote(c) for c in ("count", "sum", "start", "time"))
    series = "x.service_id, x.name, x.labels_hash"
    # Joined to the metric table rather than `name IN (...)`: SQLite would then seek the
    # (name, time) index once per name, several times slower than one range of the time index.
    cumulative = f"JOIN {metric} m ON m.name = x.name WHERE m.kind <> %s"
    return f"""
        WITH bounds AS (
            SELECT CASE WHEN dirty_since < rolled_until THEN dirty_since ELSE rolled_until END AS mark,
                   totals_until AS folded
            FROM {state} WHERE {quote("key")} = %s
        )
        SELECT svc.slug, parts.* FROM (
            SELECT {series}, {labels}, x.{count}, {value.format("x." + summed)} FROM {total} x {cumulative}
            UNION ALL
            SELECT {series}, MIN({labels}), -SUM(x.{count}), -SUM({value.format("x." + summed)})
            FROM {minute} x {cumulative}
              AND x.{start} >= (SELECT mark FROM bounds) AND x.{start} < (SELECT folded FROM bounds)
            GROUP BY {series}
            UNION ALL
            SELECT {series}, MIN({labels}), COUNT(*), SUM({value.format("x.value")}) FROM {sample} x {cumulative}
              AND x.{time} >= COALESCE((SELECT mark FROM bounds), %s)
            GROUP BY {series}
        ) parts JOIN {service} svc ON svc.id = parts.service_id
    """  # noqa: S608 (table and column names are ours; values are parameters)


@functools.lru_cache(maxsize=50_000)  # ~25 MB at most
def series_labels(slug: str, labels: str | None) -> LabelKey:
    """The label key of a series from its service slug and stored labels JSON: a series' labels
    never change, so repeated scrapes decode each one once."""
    return label_key(slug, json.loads(labels) if labels else {})


class Total(NamedTuple):
    labels: LabelKey
    count: float
    sum: float
    series: SeriesId


def cumulative_totals() -> dict[str, list[Total]]:
    """name -> [Total] over all time, for every counter, histogram and timer series.

    One statement (one snapshot, see the module docstring), O(series + raw samples after the
    watermark): no hour rollup is read."""
    gauge = MetricKind.GAUGE
    params = [
        ROLLUP_STATE_KEY,
        gauge,
        gauge,
        gauge,
        connection.ops.adapt_datetimefield_value(datetime.min.replace(tzinfo=UTC)),
    ]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(_totals_sql(numeric=False), params)
            rows = cursor.fetchall()  # SQLite's SUM gives inf where PostgreSQL's raises
        else:
            # Inside a transaction, a savepoint: the error must not break the outer one.
            guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
            try:
                with guard:
                    cursor.execute(_totals_sql(numeric=False), params)
                    rows = cursor.fetchall()
            except DataError:
                cursor.execute(_totals_sql(numeric=True), params)
                rows = cursor.fetchall()
    merged: dict[SeriesId, list] = {}  # -> [slug, labels, count, sum parts]
    for slug, service_id, name, digest, labels, count, total in rows:
        entry = merged.get((service_id, name, digest))
        if entry is None:
            merged[(service_id, name, digest)] = [slug, labels, count, [float(total)]]
        else:
            entry[2] += count
            entry[3].append(float(total))
    out: dict[str, list] = defaultdict(list)
    for series, (slug, labels, count, parts) in merged.items():
        total = parts[0] if len(parts) == 1 else finite_sum(parts)
        out[series[1]].append(Total(series_labels(slug, labels), float(count), total, series))
    return out
