"""Operations figures over 100,000 alerts (with their triggered and acknowledged events):
`alert_figures` as the portal computes it (SQL aggregates, medians picked by window functions)
against the same figures from every alert's times loaded into Python, side by side in one run.

    .venv/bin/python bench/reporting_operations.py                  # SQLite, 100k alerts
    .venv/bin/python bench/reporting_operations.py --alerts 20000 --postgres postgres://postgres@127.0.0.1:5432
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throwaway_db import throwaway_database  # noqa: E402 (after sys.path)

START = datetime(2026, 3, 1, tzinfo=UTC)


def build(n: int) -> None:
    from django.core.management import call_command
    from django.db import transaction

    from monitoring.alerting.models import Alert, AlertEvent, AlertRule
    from portal.models import Service

    call_command("migrate", verbosity=0)
    rng = random.Random(15)
    services = [Service.objects.create(name=f"S{i}", slug=f"s{i}") for i in range(10)]
    rules = [AlertRule.objects.create(name=f"rule {i}", metric="m", threshold=1) for i in range(50)]
    with transaction.atomic():
        for start in range(0, n, 5000):
            alerts = []
            for i in range(start, min(n, start + 5000)):
                created = START + timedelta(seconds=i * 25)
                resolved = created + timedelta(seconds=rng.randint(60, 7200)) if i % 4 else None
                alerts.append(
                    Alert(
                        rule=rules[i % 50],
                        service=services[i % 10],
                        severity=("info", "warning", "critical")[i % 3],
                        fingerprint=f"f{i}",
                        summary="s",
                        created_at=created,
                        status="resolved" if resolved else "firing",
                        resolved_at=resolved,
                    )
                )
            Alert.objects.bulk_create(alerts)
        events = []
        for alert_id, created in Alert.objects.values_list("pk", "created_at").iterator():
            events.append(AlertEvent(alert_id=alert_id, kind="triggered", created_at=created))
            if alert_id % 3:
                events.append(
                    AlertEvent(
                        alert_id=alert_id, kind="acknowledged", created_at=created + timedelta(seconds=alert_id % 900)
                    )
                )
            if len(events) >= 10000:
                AlertEvent.objects.bulk_create(events)
                events = []
        AlertEvent.objects.bulk_create(events)


def in_python(since, until):
    """Every alert's times loaded, grouped and summarised in Python."""
    from monitoring.alerting.models import Alert, AlertEvent

    first_ack = {}
    for alert_id, at in (
        AlertEvent.objects.filter(kind="acknowledged", alert__created_at__gte=since, alert__created_at__lt=until)
        .order_by("created_at")
        .values_list("alert_id", "created_at")
    ):
        first_ack.setdefault(alert_id, at)
    groups = defaultdict(lambda: ([], []))
    for pk, slug, created, resolved in Alert.objects.filter(created_at__gte=since, created_at__lt=until).values_list(
        "pk", "service__slug", "created_at", "resolved_at"
    ):
        tta, ttr = groups[slug]
        if pk in first_ack:
            tta.append((first_ack[pk] - created).total_seconds())
        if resolved:
            ttr.append((resolved - created).total_seconds())
    return {
        slug: (
            statistics.fmean(a) if a else None,
            statistics.median(a) if a else None,
            statistics.median(r) if r else None,
        )
        for slug, (a, r) in groups.items()
    }


def timed(fn, repeat=3):
    best = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        took = time.perf_counter() - began
        best = took if best is None else min(best, took)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    os.environ["METRICS_FLUSH_ENABLED"] = "false"
    os.environ["ANALYTICS_TRACKER_ENABLED"] = "false"
    label, cleanup = throwaway_database("bench_reporting_ops", args.postgres)
    import django

    django.setup()
    try:
        began = time.perf_counter()
        build(args.alerts)
        print(f"{label}: {args.alerts:,} alerts built in {time.perf_counter() - began:.1f} s")
        from reporting.operations import alert_figures

        since, until = START, START + timedelta(days=400)
        sql_s, rows = timed(lambda: alert_figures(since=since, until=until, by="service"))
        py_s, python = timed(lambda: in_python(since, until))
        for row in rows:  # same answers both ways
            mean, median, ttr = python[row.key]
            assert abs(row.mtta_mean - mean) < 1e-6 and row.mtta_median == median and row.mttr_median == ttr, row
        print(f"alert_figures (SQL aggregates + window-function medians): {sql_s * 1000:.0f} ms")
        print(f"all alerts loaded into Python:                           {py_s * 1000:.0f} ms")
        print(f"ratio Python / SQL: {py_s / sql_s:.2f}x (best of 3 each, same figures)")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
