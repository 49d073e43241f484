"""One ordinary minute's rollup run late in an hour: folding the new minute into the stored hour
rollups (now) vs rebuilding the hour from all its minute rollups (before, issue 10).

    .venv/bin/python bench/rollup_run.py                   # 10,000 series, 50 minutes into the hour
    .venv/bin/python bench/rollup_run.py --series 1000 --age 10
    .venv/bin/python bench/rollup_run.py --postgres

The first `--age` minutes of the hour are generated inside the database as the rollup job leaves
them (a minute rollup per series and minute, the hour rollups holding them, the watermark after
them); then one raw sample per series and minute follows, and the real job rolls it up a minute at
a time, alternately with the previous algorithm (the same code with the hours rebuilt, as a redo
does) and the incremental one, on adjacent minutes of the same hour. Prints the median of each
and their ratio; a run's cost should follow the minutes it rolls up, not the hour's age.
"""

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_scrape import make_series, setup, write_samples
from throwaway_db import DEFAULT_POSTGRES, throwaway_database

MINUTE = timedelta(minutes=1)
RUNS = 3  # of each


def configure(postgres: bool):
    os.environ["METRICS_FLUSH_ENABLED"] = "false"
    label, cleanup = throwaway_database("bench_rollup", DEFAULT_POSTGRES if postgres else None)
    if postgres:
        return label, cleanup
    folder = Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///")).parent
    return label, lambda: shutil.rmtree(folder, ignore_errors=True)


def generate_minutes(rows: list[tuple], hour: datetime, age: int) -> None:
    """Minute rollups of the hour's first `age` minutes (value 1 each), the hour rollups holding
    them and the running totals; the watermark at hour + age."""
    from django.db import connection, transaction

    from monitoring.models import HourRollup, MetricTotal, MinuteRollup, RollupState
    from monitoring.query import ROLLUP_STATE_KEY
    from monitoring.sketches import sketch_dumps, sketch_from_values

    adapt = connection.ops.adapt_datetimefield_value
    postgres = connection.vendor == "postgresql"
    one = sketch_dumps(sketch_from_values([1.0]))
    whole = sketch_dumps(sketch_from_values([1.0] * age))
    labels = "s.labels::jsonb" if postgres else "s.labels"
    columns = "service_id, name, labels, labels_hash, start, count, sum, min, max, last, sketch"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_series (service_id bigint, name text, labels text, digest text)")
        cursor.executemany("INSERT INTO bench_series VALUES (%s, %s, %s, %s)", [r[:4] for r in rows])
        cursor.execute(f"CREATE TEMPORARY TABLE bench_minutes (start {'timestamptz' if postgres else 'datetime'})")
        cursor.executemany("INSERT INTO bench_minutes VALUES (%s)", [(adapt(hour + i * MINUTE),) for i in range(age)])
        cursor.execute(
            f'INSERT INTO "{MinuteRollup._meta.db_table}" ({columns}) SELECT s.service_id, s.name, {labels}, '
            "s.digest, m.start, 1, 1.0, 1, 1, 1, %s FROM bench_series s CROSS JOIN bench_minutes m",
            [one],
        )
        cursor.execute(
            f'INSERT INTO "{HourRollup._meta.db_table}" ({columns}) SELECT s.service_id, s.name, {labels}, '
            f"s.digest, %s, {age}, {age}.0, 1, 1, 1, %s FROM bench_series s",
            [adapt(hour), whole],
        )
        until = hour + age * MINUTE
        MetricTotal.objects.bulk_create(
            [
                MetricTotal(service_id=s, name=n, labels={}, labels_hash=d, count=age, sum=float(age), until=until)
                for s, n, _, d, kind in rows
                if kind != "gauge"
            ],
            batch_size=1000,
        )
        RollupState.objects.update_or_create(
            key=ROLLUP_STATE_KEY, defaults={"rolled_until": until, "totals_until": until, "claimed_until": until}
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--age", type=int, default=50, help="minutes of the hour rolled up before (1-53)")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    age = max(1, min(args.age, 60 - 2 * RUNS - 1))
    label, cleanup = configure(args.postgres)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring import rollups
    from monitoring.models import HourRollup

    try:
        call_command("migrate", "monitoring", verbosity=0)
        series = make_series(args.series)
        _, rows = setup(series)
        hour = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        began = time.perf_counter()
        generate_minutes(rows, hour, age)
        write_samples(rows, hour + age * MINUTE, 2 * RUNS)
        print(
            f"{label}: {args.series:,} series, {age} minutes into the hour "
            f"({args.series * age:,} minute rollups), set up in {time.perf_counter() - began:.0f} s",
            flush=True,
        )
        real_claim = rollups._claim

        def rebuilding_claim(now):
            claimed = real_claim(now)
            return claimed and (*claimed[:3], False)

        delay = timedelta(seconds=settings.METRICS_ROLLUP_DELAY_SECONDS)
        timings = {"rebuild (before)": [], "fold (now)": []}
        queries = {}
        for minute in range(2 * RUNS):
            way = "rebuild (before)" if minute % 2 == 0 else "fold (now)"
            rollups._claim = rebuilding_claim if minute % 2 == 0 else real_claim
            now = hour + (age + minute + 1) * MINUTE + delay
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                done = rollups.rollup_run(now=now)
                timings[way].append(time.perf_counter() - began)
            assert done["minutes"] == 1 and done["rows"] == len(rows), done
            queries[way] = len(captured)
        rollups._claim = real_claim
        hours = HourRollup.objects.filter(start=hour)
        assert hours.count() == len(rows) and {h.count for h in hours.only("count")[:100]} == {age + 2 * RUNS}
        medians = {way: statistics.median(values) for way, values in timings.items()}
        for way, value in medians.items():
            spread = ", ".join(f"{v * 1000:,.0f}" for v in timings[way])
            print(f"  {way:17}: {value * 1000:8,.0f} ms (runs: {spread} ms), {queries[way]} queries")
        ratio = medians["rebuild (before)"] / medians["fold (now)"]
        print(f"  ratio: the fold is {ratio:.1f}x faster (load average {os.getloadavg()[0]:.1f})")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
