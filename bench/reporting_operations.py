"""Operations figures over 100,000 alerts (with their triggered and acknowledged events):
`alert_figures` as the portal computes it (histograms in SQL, the stored first acknowledgement)
against the portal's previous SQL and against every alert's times loaded into Python, side by
side in one run; every form must give the same figures. The first acknowledgements are filled
by the migration's backfill, timed too.

    .venv/bin/python bench/reporting_operations.py                  # SQLite, 100k alerts
    .venv/bin/python bench/reporting_operations.py --alerts 20000 --postgres postgres://postgres@127.0.0.1:5432
"""

import argparse
import importlib
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


def before_sql(since, until):
    """The portal's previous form, for the side-by-side ratio: the first acknowledgement read
    from the events by a correlated subquery, medians picked by window functions."""
    from django.db.models import Avg, Count, F, OuterRef, Q, Subquery, Value, Window
    from django.db.models.functions import Coalesce, RowNumber

    from monitoring.alerting.models import Alert, AlertEvent
    from portal.lib.sqltime import SecondsBetween

    first_ack = (
        AlertEvent.objects.filter(alert=OuterRef("pk"), kind="acknowledged")
        .order_by("created_at", "id")
        .values("created_at")[:1]
    )
    alerts = Alert.objects.filter(created_at__gte=since, created_at__lt=until).annotate(
        tta=SecondsBetween(Subquery(first_ack), F("created_at")),
        ttr=SecondsBetween(F("resolved_at"), F("created_at")),
    )
    key = "service__slug"

    def medians(measure):
        ranked = (
            alerts.filter(**{f"{measure}__isnull": False})
            .annotate(
                group=Coalesce(F(key), Value("")),
                position=Window(RowNumber(), partition_by=[F(key)], order_by=[F(measure).asc(), F("pk").asc()]),
                size=Window(Count("pk"), partition_by=[F(key)]),
            )
            .filter(Q(position=(F("size") + 1) / 2) | Q(position=(F("size") + 2) / 2))
            .values_list("group", measure)
        )
        middle = defaultdict(list)
        for group, value in ranked:
            middle[group].append(value)
        return {group: sum(values) / len(values) for group, values in middle.items()}

    rows = alerts.values(key).annotate(
        count=Count("pk"), acknowledged=Count("tta"), resolved=Count("resolved_at"), mtta=Avg("tta"), mttr=Avg("ttr")
    )
    mtta, mttr = medians("tta"), medians("ttr")
    return {
        r[key]: (r["count"], r["acknowledged"], r["resolved"], r["mtta"], mtta.get(r[key]), r["mttr"], mttr.get(r[key]))
        for r in rows.order_by()
    }


def _summary(groups):
    return {
        slug: (
            count,
            len(a),
            len(r),
            statistics.fmean(a) if a else None,
            statistics.median(a) if a else None,
            statistics.fmean(r) if r else None,
            statistics.median(r) if r else None,
        )
        for slug, (count, a, r) in groups.items()
    }


def python_events(since, until):
    """Every alert's times loaded into Python, the first acknowledgement from the events."""
    from monitoring.alerting.models import Alert, AlertEvent

    first_ack = {}
    for alert_id, at in (
        AlertEvent.objects.filter(kind="acknowledged", alert__created_at__gte=since, alert__created_at__lt=until)
        .order_by("created_at", "id")
        .values_list("alert_id", "created_at")
    ):
        first_ack.setdefault(alert_id, at)
    groups = defaultdict(lambda: [0, [], []])
    for pk, slug, created, resolved in Alert.objects.filter(created_at__gte=since, created_at__lt=until).values_list(
        "pk", "service__slug", "created_at", "resolved_at"
    ):
        group = groups[slug]
        group[0] += 1
        if pk in first_ack:
            group[1].append((first_ack[pk] - created).total_seconds())
        if resolved:
            group[2].append((resolved - created).total_seconds())
    return _summary(groups)


def python_rows(since, until):
    """Every alert's times loaded into Python from its own row (the stored first acknowledgement)."""
    from monitoring.alerting.models import Alert

    groups = defaultdict(lambda: [0, [], []])
    for slug, created, acked, resolved in Alert.objects.filter(created_at__gte=since, created_at__lt=until).values_list(
        "service__slug", "created_at", "first_acknowledged_at", "resolved_at"
    ):
        group = groups[slug]
        group[0] += 1
        if acked:
            group[1].append((acked - created).total_seconds())
        if resolved:
            group[2].append((resolved - created).total_seconds())
    return _summary(groups)


def portal(since, until):
    from reporting.operations import alert_figures

    return {
        r.key: (r.count, r.acknowledged, r.resolved, r.mtta_mean, r.mtta_median, r.mttr_mean, r.mttr_median)
        for r in alert_figures(since=since, until=until, by="service")
    }


def same(a: dict, b: dict) -> bool:
    """Equal counts and medians; means equal but for the order floating-point sums were added in."""
    if a.keys() != b.keys():
        return False
    for key in a:
        for x, y in zip(a[key], b[key], strict=True):
            if (x is None) != (y is None) or (x is not None and abs(x - y) > 1e-6 * max(1.0, abs(x))):
                return False
    return True


def timed(fn, repeat):
    """Best of `repeat` runs: (wall seconds, CPU seconds of this process, result)."""
    best = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        took = (time.perf_counter() - wall, time.process_time() - cpu)
        best = took if best is None or took[0] < best[0] else best
    return best[0], best[1], result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--repeat", type=int, default=3)
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
        from django.apps import apps
        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext

        backfill = importlib.import_module("monitoring.alerting.migrations.0010_alert_first_acknowledged_at")
        began = time.perf_counter()
        with transaction.atomic():
            backfill.first_acknowledgements_fill(apps, None)
        took = time.perf_counter() - began
        print(f"first_acknowledged_at backfilled from the events (the migration's code): {took:.1f} s")
        if label == "PostgreSQL":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE alerting_alert")  # as autovacuum would after a bulk load
        since, until = START, START + timedelta(days=400)
        forms = [
            ("alert_figures (histograms, stored first acknowledgement)", portal),
            ("before: events subquery + window-function medians (SQL)", before_sql),
            ("every alert loaded into Python, acks from the events", python_events),
            ("every alert loaded into Python, acks from the alert row", python_rows),
        ]
        results = {}
        for name, fn in forms:
            results[name] = timed(lambda fn=fn: fn(since, until), args.repeat)
        reference = results[forms[2][0]][2]
        for name, (_, _, found) in results.items():
            assert same(found, reference), (name, found, reference)
        with CaptureQueriesContext(connection) as queries:
            portal(since, until)
        portal_wall = results[forms[0][0]][0]
        note = " (the server's work is not in the CPU column)" if label == "PostgreSQL" else ""
        print(f"best of {args.repeat} each, wall / CPU of this process{note}; all four give the same figures")
        for name, (wall, cpu, _) in results.items():
            ratio = wall / portal_wall
            print(f"  {name:58} {wall * 1000:7.0f} ms wall {cpu * 1000:7.0f} ms CPU  {ratio:5.2f}x alert_figures")
        print(f"alert_figures ran {len(queries.captured_queries)} queries")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
