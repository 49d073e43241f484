"""One /metrics scrape over many series with a long history: running totals (now) vs summing
every hour rollup on every scrape (before, issue 10).

    .venv/bin/python bench/prometheus_scrape.py                       # 10,000 series x 400 days, SQLite
    .venv/bin/python bench/prometheus_scrape.py --series 300 --days 100 --old   # the issue's case
    .venv/bin/python bench/prometheus_scrape.py --postgres --days 30

Series: 60 % counters, 20 % gauges, 20 % histograms, over 10 services. The hour rollups of the
history are generated inside the database (INSERT ... SELECT of series x hours, secondary indexes
built afterwards) with the running totals that hold them; the last 12 minutes are real: raw
samples, the real rollup job (which folds them into the totals), then raw samples after its
watermark. The scrape is a GET /metrics through Django's test client (median of 5).

Compared, in the same run: reading the totals table alone (the floor: one row per series), and
with --old the previous algorithm (totals + every hour rollup + minute rollups + raw samples,
grouped SUMs), which reads series x hours rows. Goal: one scrape < 500 ms on SQLite with 10,000
series and 400 days, and a query count that does not grow with the days.

The default builds the issue's 400 days (96 million hour rollups, tens of GB and about 40 minutes
here). A scrape reads no hour rollup (printed, and tests/monitoring/test_prometheus.py checks it
and that the queries do not grow from 2 to 400 hours): it reads one running total per series, the
minute rollups and raw samples of the lookback window, so `--days 2` times the same work on a
smaller file. The figures in docs/monitoring.md say which they used.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throwaway_db import DEFAULT_POSTGRES, throwaway_database

SERVICES = 10
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
PER_HOUR = 60  # samples per series per hour in the generated history, value 1 each
LIVE_MINUTES = 12  # raw samples at the end: the lookback for gauges and quantiles, and the tail


def configure(postgres: bool):
    """(label, cleanup): the SQLite file is tens of GB at full size, so it goes with its folder."""
    os.environ["METRICS_FLUSH_ENABLED"] = "false"
    label, cleanup = throwaway_database("bench_scrape", DEFAULT_POSTGRES if postgres else None)
    if postgres:
        return label, cleanup
    folder = Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///")).parent
    return label, lambda: shutil.rmtree(folder, ignore_errors=True)


def kind_of(index: int) -> str:
    return ("counter", "counter", "counter", "gauge", "histogram")[index % 5]


def make_series(count: int) -> list[tuple]:
    """(service index, name, kind, labels) for `count` series: 100 names over 10 services."""
    names = max(1, count // (SERVICES * 10))
    out = []
    for i in range(count):
        metric = i % names
        kind = kind_of(metric)
        name = f"bench_{kind}_{metric}" + ("_total" if kind == "counter" else "")
        out.append((i // names % SERVICES, name, kind, {"shard": str(i // (names * SERVICES))}))
    return out


def setup(series: list[tuple]) -> tuple[list, list]:
    """Services, metrics and the series rows (service_id, name, labels JSON, hash, kind)."""
    from monitoring.ingest import metric_kinds
    from monitoring.labels import labels_canonical, labels_hash
    from portal.models import Service

    services = [Service.objects.create(name=f"svc{i}", slug=f"svc{i}") for i in range(SERVICES)]
    metric_kinds({name: kind for _, name, kind, _ in series})
    rows = []
    for service, name, kind, labels in series:
        canonical = labels_canonical(labels)
        rows.append((services[service].pk, name, canonical, labels_hash(canonical), kind))
    return services, rows


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    from django.db import connection

    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
    else:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL", [table]
        )
    return cursor.fetchall()


def generate_history(rows: list[tuple], first_hour: datetime, hours: int) -> None:
    """Hour rollups of every series for `hours` hours, and the totals that hold them."""
    from django.db import connection, transaction

    from monitoring.models import HourRollup, MetricTotal
    from monitoring.sketches import sketch_dumps, sketch_from_values

    table = HourRollup._meta.db_table
    blob = sketch_dumps(sketch_from_values([1.0] * PER_HOUR))
    adapt = connection.ops.adapt_datetimefield_value
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_series (seq integer, service_id bigint, name text, labels text, "
            "labels_hash text)"
        )
        # In the order of the unique (service, name, labels_hash, start) index: SQLite runs a
        # CROSS JOIN in the order written (series outer, hours inner), so the inserts below append
        # to that index without sorting 100 million rows first.
        ordered = sorted((r[:4] for r in rows), key=lambda r: (r[0], r[1], r[3]))
        cursor.executemany(
            "INSERT INTO bench_series VALUES (%s, %s, %s, %s, %s)", [(i, *r) for i, r in enumerate(ordered)]
        )
        cursor.execute(f"CREATE TEMPORARY TABLE bench_hours (start {'timestamptz' if postgres else 'datetime'})")
        cursor.executemany(
            "INSERT INTO bench_hours VALUES (%s)", [(adapt(first_hour + i * HOUR),) for i in range(hours)]
        )
        indexes = _secondary_indexes(cursor, table)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    labels = "s.labels::jsonb" if postgres else "s.labels"
    # A transaction per few million rows: SQLite's write-ahead log grows to the largest one.
    chunk = max(1, 2_000_000 // hours)
    for first in range(0, len(rows), chunk):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f'INSERT INTO "{table}" (service_id, name, labels, labels_hash, start, count, sum, min, max, last, '
                f"sketch) SELECT s.service_id, s.name, {labels}, s.labels_hash, h.start, {PER_HOUR}, {PER_HOUR}.0, "
                "1, 1, 1, %s FROM bench_series s CROSS JOIN bench_hours h WHERE s.seq >= %s AND s.seq < %s",
                [blob, first, first + chunk],
            )
    for _, sql in indexes:
        with transaction.atomic(), connection.cursor() as cursor:  # PostgreSQL: after the deferred FK checks ran
            cursor.execute(sql)
    if not postgres:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    until = first_hour + hours * HOUR
    totals = [
        MetricTotal(
            service_id=service_id, name=name, labels=json.loads(labels), labels_hash=digest,
            count=PER_HOUR * hours, sum=float(PER_HOUR * hours), until=until,
        )
        for service_id, name, labels, digest, kind in rows
        if kind != "gauge"
    ]  # fmt: skip
    MetricTotal.objects.bulk_create(totals, batch_size=1000)


def write_samples(rows: list[tuple], start: datetime, minutes: int) -> int:
    """One sample per series per minute, value 1 (histograms: 0.01 .. 0.99)."""
    from monitoring.ingest import samples_write

    written = 0
    for minute in range(minutes):
        moment = start + minute * MINUTE + timedelta(seconds=30)
        batch = [
            (s, n, labels, digest, 1.0 if kind != "histogram" else (i % 99 + 1) / 100, moment)
            for i, (s, n, labels, digest, kind) in enumerate(rows)
        ]
        samples_write(batch)
        written += len(batch)
    return written


def old_cumulative(names: list[str]) -> int:
    """The previous /metrics read: totals + every hour rollup + minute rollups + raw samples, as
    grouped SUMs (rows returned)."""
    from django.db.models import Count, Sum

    from monitoring.models import HourRollup, MetricSample, MetricTotal, MinuteRollup
    from monitoring.query import floor_hour, rollup_watermark

    fields = ("service__slug", "name", "labels_hash", "labels")
    mark = rollup_watermark()
    hour_end = floor_hour(mark)

    def grouped(queryset, count="count", value="sum", aggregate=Sum):
        return queryset.values(*fields).annotate(c=aggregate(count), s=Sum(value))

    parts = [
        grouped(MetricTotal.objects.filter(name__in=names)),
        grouped(HourRollup.objects.filter(name__in=names, start__lt=hour_end)),
        grouped(MinuteRollup.objects.filter(name__in=names, start__gte=hour_end, start__lt=mark)),
        grouped(MetricSample.objects.filter(name__in=names, time__gte=mark), "id", "value", Count),
    ]
    return sum(len(list(p)) for p in parts)


def timed(fn, repeat: int) -> tuple[float, object]:
    durations, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        durations.append(time.perf_counter() - began)
    return statistics.median(durations), result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=400, help="days of hour rollups (the default retention)")
    parser.add_argument("--old", action="store_true", help="also time the previous read (series x hours rows)")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    label, cleanup = configure(args.postgres)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from prometheus_client.parser import text_string_to_metric_families

    from monitoring import rollups
    from monitoring.models import HourRollup, MetricTotal
    from monitoring.rollups import rollup_run

    try:
        import_module(settings.ROOT_URLCONF)  # fail now, not after generating the data
        call_command("migrate", "monitoring", verbosity=0)
        series = make_series(args.series)
        _, rows = setup(series)
        now = datetime.now(tz=UTC).replace(second=0, microsecond=0)
        live_start = now - LIVE_MINUTES * MINUTE
        live_hour = live_start.replace(minute=0)  # the history ends where the live hour starts
        history = args.days * 24 - 1
        began = time.perf_counter()
        generate_history(rows, live_hour - history * HOUR, history)
        generated = time.perf_counter() - began
        hour_rows = HourRollup.objects.count()
        print(
            f"{label}: {args.series:,} series, {args.days} days: {hour_rows:,} hour rollups in {generated:.0f} s",
            flush=True,
        )

        # The live part: raw samples of the last minutes, rolled up (and folded) by the real job.
        # The clock is read again: generating 400 days takes long enough for the scrape's lookback
        # window to have moved past the minutes written (the hours between are left empty).
        now = datetime.now(tz=UTC).replace(second=0, microsecond=0)
        live_start = now - LIVE_MINUTES * MINUTE
        began = time.perf_counter()
        written = write_samples(rows, live_start, LIVE_MINUTES)
        rolled = rollup_run(now=now - MINUTE)
        first_run = time.perf_counter() - began
        folds = []
        real_fold = rollups.totals_fold

        def timed_fold(**kwargs):
            began = time.perf_counter()
            try:
                return real_fold(**kwargs)
            finally:
                folds.append(time.perf_counter() - began)

        rollups.totals_fold = timed_fold
        began = time.perf_counter()
        one = rollup_run(now=now)  # the ordinary run of this minute: rolls one minute, up to now - 2 min
        one_run = time.perf_counter() - began
        rollups.totals_fold = real_fold
        print(
            f"  live: {written:,} raw samples; rollup job {first_run:.1f} s for {rolled['minutes']} minutes "
            f"(writing included); a {one['minutes']}-minute run {one_run * 1000:.0f} ms, of which the fold "
            f"{folds[0] * 1000:.0f} ms"
        )
        # The samples of the current minute: a scrape before the next run reads 3 minutes of raw
        # samples after the watermark (2 minutes of METRICS_ROLLUP_DELAY_SECONDS, and this one).
        write_samples(rows, now, 1)

        client = Client()

        def scrape():
            response = client.get("/metrics")
            assert response.status_code == 200
            return response.content

        scrape()  # warm caches, as a running portal is
        cpu = time.process_time()
        scrape_time, body = timed(scrape, 5)
        cpu = (time.process_time() - cpu) / 5
        with CaptureQueriesContext(connection) as queries:
            scrape()
        found = {f.name: f for f in text_string_to_metric_families(body.decode())}
        counter = next(name for _, name, kind, _ in series if kind == "counter")
        value = next(s.value for s in found[counter.removesuffix("_total")].samples if s.name == counter)
        expected = PER_HOUR * history + written // len(rows) + 1
        assert value == expected, (value, expected)
        reads_hours = any(HourRollup._meta.db_table in q["sql"] for q in queries)

        def totals_only():
            return len(
                list(MetricTotal.objects.values_list("service_id", "name", "labels_hash", "labels", "count", "sum"))
            )

        totals_time, total_rows = timed(totals_only, 5)
        print(
            f"  scrape (GET /metrics, {len(body) / 1e6:.1f} MB): {scrape_time * 1000:.0f} ms (goal < 500 ms; "
            f"{cpu * 1000:.0f} ms of CPU, load average {os.getloadavg()[0]:.1f}), {len(queries)} queries, "
            f"hour rollups read: {'yes' if reads_hours else 'none'}"
        )
        print(
            f"  reading the {total_rows:,} totals alone: {totals_time * 1000:.0f} ms "
            f"(the scrape is {scrape_time / totals_time:.1f}x that)"
        )
        if args.old:
            names = sorted({name for _, name, kind, _ in series if kind != "gauge"})
            MetricTotal.objects.update(count=0, sum=0)  # before: nothing folded within the retention
            old_time, _ = timed(lambda: old_cumulative(names), 1)
            ratio = old_time / scrape_time
            print(f"  previous read (every hour rollup): {old_time * 1000:,.0f} ms = {ratio:.0f}x the scrape")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
