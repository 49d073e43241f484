"""p95 of one metric over 30 days: from rollups (the query layer) vs exact over raw rows.

    .venv/bin/python bench/metrics_query.py                        # 2M raw samples, SQLite
    .venv/bin/python bench/metrics_query.py --samples 10000000     # the issue's 10M
    .venv/bin/python bench/metrics_query.py --postgres

Raw samples are generated straight into the table with executemany/COPY (values: lognormal
"latencies", times spread over 30 days); the minute and hour rollups are then built by the real
rollup job. Goal (issue 3): < 100 ms and <= 1 % relative error; the number of queries must not
grow with the data size.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics_ingest import configure, create_tables

NAME = "http_request_duration_seconds"
DAYS = 30
CHUNK = 50_000


def generate(service_id: int, samples: int, end: datetime) -> None:
    from django.db import connection, transaction

    from monitoring.ingest import _copy_sql, _insert_sql, _sqlite_time
    from monitoring.labels import labels_canonical, labels_hash

    canonical = labels_canonical({"route": "/checkout"})
    digest = labels_hash(canonical)
    rng = np.random.default_rng(42)
    start = end - timedelta(days=DAYS)
    span = (end - start).total_seconds()
    for offset in range(0, samples, CHUNK):
        size = min(CHUNK, samples - offset)
        values = rng.lognormal(mean=-2.0, sigma=0.6, size=size)
        seconds = np.sort(rng.uniform(offset / samples * span, (offset + size) / samples * span, size=size))
        times = [start + timedelta(seconds=float(s)) for s in seconds]
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.copy(_copy_sql()) as copy:
                    for value, moment in zip(values.tolist(), times, strict=True):
                        copy.write_row((service_id, NAME, canonical, digest, value, moment))
            else:
                params = [
                    (service_id, NAME, canonical, digest, value, _sqlite_time(moment))
                    for value, moment in zip(values.tolist(), times, strict=True)
                ]
                cursor.executemany(_insert_sql(), params)


def timed(fn, repeat: int) -> tuple[float, object]:
    durations, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        durations.append(time.perf_counter() - began)
    return statistics.median(durations), result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2_000_000, help="raw samples to generate (issue: 10M)")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    label, cleanup = configure(args.postgres)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.models import HourRollup, MetricSample, MinuteRollup
    from monitoring.query import window_aggregates
    from monitoring.rollups import rollup_run
    from portal.models import Service

    try:
        create_tables()
        service = Service.objects.create(name="bench", slug="bench")
        end = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        began = time.perf_counter()
        generate(service.pk, args.samples, end)
        generated = time.perf_counter() - began
        settings.METRICS_ROLLUP_MAX_MINUTES = DAYS * 24 * 60 + 60
        began = time.perf_counter()
        rollup_run(now=end + timedelta(minutes=30))
        rolled = time.perf_counter() - began
        print(f"{label}: {args.samples:,} raw samples over {DAYS} days in one series")
        print(
            f"  generated in {generated:.1f} s; rollup job built {MinuteRollup.objects.count():,} minute and "
            f"{HourRollup.objects.count():,} hour rollups in {rolled:.1f} s"
        )

        since = end - timedelta(days=DAYS)

        def from_rollups():
            (agg,) = window_aggregates(name=NAME, since=since, until=end, service_id=service.pk).values()
            return agg.value("p95"), agg.count

        def exact():
            values = MetricSample.objects.filter(name=NAME, service=service, time__gte=since, time__lt=end)
            array = np.fromiter(values.values_list("value", flat=True).iterator(chunk_size=20000), dtype=float)
            return float(np.percentile(array, 95)), len(array)

        rollup_time, (estimate, counted) = timed(from_rollups, 7)
        exact_time, (truth, exact_count) = timed(exact, 2)
        assert counted == exact_count == args.samples, (counted, exact_count)
        error = abs(estimate - truth) / truth
        with CaptureQueriesContext(connection) as one_day:
            window_aggregates(name=NAME, since=end - timedelta(days=1), until=end, service_id=service.pk)
        with CaptureQueriesContext(connection) as thirty_days:
            from_rollups()
        print(f"  p95 from rollups : {estimate:.6f} s   in {rollup_time * 1000:8.1f} ms  (goal < 100 ms)")
        print(f"  p95 exact (numpy): {truth:.6f} s   in {exact_time * 1000:8.1f} ms")
        print(f"  relative error {error:.3%} (goal <= 1 %); rollups are {exact_time / rollup_time:.0f}x faster")
        print(f"  queries: {len(one_day)} for 1 day, {len(thirty_days)} for 30 days (constant in the data size)")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
