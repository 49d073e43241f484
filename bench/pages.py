"""Pages, admin changelists and list endpoints over a large data set: queries and p95 per page.

    .venv/bin/python bench/pages.py                  # the issue's sizes on SQLite (2-4 min to build here)
    .venv/bin/python bench/pages.py --scale 0.1      # a tenth of them, quicker
    .venv/bin/python bench/pages.py --postgres       # PostgreSQL at 127.0.0.1 (temp database)
    .venv/bin/python bench/pages.py --only admin     # pages whose label contains "admin"

Data set at --scale 1 (issue 10): 100k alerts with 375k events and 200k deliveries, 1M raw
samples in 60 series over 7 days (rolled up by the real rollup job), 87k health-check results.
Raw tables are filled with executemany (COPY on PostgreSQL), the others with bulk_create.

Every page is first measured on a tenth of the data (query count only), then the data is built
again at full size and each page is requested --repeat times with Django's test client as an admin.
Goal: every page < 300 ms p95 on SQLite, and the same number of queries at both sizes.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throwaway_db import DEFAULT_POSTGRES, throwaway_database

GOAL_MS = 300
SIZES = {"alerts": 100_000, "events": 375_000, "deliveries": 200_000, "samples": 1_000_000, "results": 87_000}
SERVICES, RULES, CHANNELS, CHECKS, OPEN_ALERTS = 20, 50, 5, 30, 300
METRIC, SERIES_SERVICES, ROUTES, DAYS = "http_request_duration_seconds", 3, 20, 7  # 3 x 20 = 60 series
BATCH = 5000


def sizes_at(scale: float) -> dict[str, int]:
    return {name: max(1, int(size * scale)) for name, size in SIZES.items()}


def insert(model, rows) -> None:
    """executemany of dicts (attname -> value) into `model`'s table; other columns get their
    field defaults. Much faster than bulk_create, whose per-value preparation dominates."""
    from django.db import connection, models

    from monitoring.ingest import _sqlite_time

    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.attname != "id")]
    adapt_time = _sqlite_time if connection.vendor == "sqlite" else connection.ops.adapt_datetimefield_value

    def adapter(field):
        if isinstance(field, models.DateTimeField):
            return lambda v: None if v is None else adapt_time(v)
        if isinstance(field, models.JSONField):
            return lambda v: None if v is None else json.dumps(v)
        return lambda v: v

    table = connection.ops.quote_name(model._meta.db_table)
    batch = []

    def flush():
        if not batch:
            return
        columns = ", ".join(connection.ops.quote_name(f.column) for f in used)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(used))})"
        with connection.cursor() as cursor:
            cursor.executemany(sql, batch)
        batch.clear()

    used, adapters, defaults = None, None, None
    for row in rows:
        if used is None:
            used = [f for f in fields if f.attname in row or f.attname != "id"]
            defaults = {f.attname: f.get_default() for f in used if f.attname not in row}
            adapters = [(f.attname, adapter(f)) for f in used]
        row = {**defaults, **row}
        batch.append([adapt(row[name]) for name, adapt in adapters])
        if len(batch) >= BATCH:
            flush()
    flush()


def build(sizes: dict[str, int], now: datetime) -> dict:
    """Fill an empty database; returns what the page list needs (ids)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from monitoring.alerting.models import Alert, AlertEvent, AlertRule, Channel, Delivery
    from monitoring.models import HealthCheck, HealthCheckResult, Metric
    from portal.models import Service

    rng = random.Random(10)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    services = Service.objects.bulk_create(Service(name=f"svc {i:02}", slug=f"svc-{i:02}") for i in range(SERVICES))
    rules = AlertRule.objects.bulk_create(
        AlertRule(name=f"rule {i}", metric=METRIC, threshold=i, service=services[i % SERVICES]) for i in range(RULES)
    )
    channels = Channel.objects.bulk_create(Channel(name=f"channel {i}", kind="webhook") for i in range(CHANNELS))
    checks = HealthCheck.objects.bulk_create(
        HealthCheck(name=f"check {i}", kind="tcp", service=services[i % SERVICES], last_status="healthy")
        for i in range(CHECKS)
    )
    Metric.objects.create(name=METRIC, kind="timer")
    alerts = sizes["alerts"]
    first_open = alerts - min(OPEN_ALERTS, alerts // 10)
    created = [now - timedelta(seconds=rng.uniform(60, 30 * 86400)) for _ in range(alerts)]
    kinds = ["triggered", "notified", "resolved", "acknowledged", "commented", "escalated"]
    with transaction.atomic():
        insert(
            Alert,
            (
                {
                    "id": i + 1,
                    "rule_id": rules[i % RULES].pk,
                    "service_id": rules[i % RULES].service_id,
                    "fingerprint": f"{i:040x}",
                    "labels": {"route": f"/r{i % ROUTES}"},
                    "severity": ("warning", "critical", "info")[i % 3],
                    "summary": f"rule {i % RULES} on /r{i % ROUTES} above {i % RULES}",
                    "status": "firing" if i >= first_open else "resolved",
                    "value": rng.uniform(0, 100),
                    "created_at": created[i],
                    "resolved_at": None if i >= first_open else created[i] + timedelta(minutes=30),
                }
                for i in range(alerts)
            ),
        )
        insert(
            AlertEvent,
            (
                {
                    "alert_id": i % alerts + 1,
                    "kind": kinds[min(i // alerts, len(kinds) - 1)],
                    "created_at": created[i % alerts] + timedelta(minutes=i // alerts),
                    "actor_id": user.pk if i // alerts == 3 else None,
                    "message": "bench",
                }
                for i in range(sizes["events"])
            ),
        )
        insert(
            Delivery,
            (
                {
                    "alert_id": i % alerts + 1,
                    "channel_id": channels[i % CHANNELS].pk,
                    "event": "trigger" if i < alerts else "resolve",
                    "status": "sent",
                    "attempts": 1,
                    "next_attempt_at": None,
                    "created_at": created[i % alerts] + timedelta(seconds=i // alerts),
                }
                for i in range(sizes["deliveries"])
            ),
        )
        insert(
            HealthCheckResult,
            (
                {
                    "health_check_id": checks[i % CHECKS].pk,
                    "status": "healthy" if i % 50 else "unhealthy",
                    "latency_ms": rng.uniform(1, 200),
                    "created_at": now - timedelta(seconds=60 * (i // CHECKS)),
                }
                for i in range(sizes["results"])
            ),
        )
    samples(sizes["samples"], [s.pk for s in services[:SERIES_SERVICES]], now, rng)
    return {"alert": alerts // 2, "check": checks[0].pk, "channel": channels[0].pk}


def samples(count: int, service_ids: list[int], now: datetime, rng: random.Random) -> None:
    """`count` raw samples spread evenly over 60 series and DAYS days before `now`, and their
    minute and hour rollups as the rollup job computes them (count/sum/min/max/last, sketch),
    computed here in one pass: the job's per-row ORM writes would take most of an hour."""
    from django.db import connection, transaction

    from monitoring.ingest import _copy_sql, _insert_sql, _sqlite_time
    from monitoring.labels import labels_canonical, labels_hash
    from monitoring.models import HourRollup, MinuteRollup, RollupState
    from monitoring.query import floor_hour, floor_minute
    from monitoring.sketches import sketch_dumps, sketch_from_values

    series = []
    for service_id in service_ids:
        for route in range(ROUTES):
            canonical = labels_canonical({"route": f"/r{route}"})
            series.append((service_id, canonical, labels_hash(canonical)))
    end = now - timedelta(minutes=5)
    start = end - timedelta(days=DAYS)
    rolled_until = floor_minute(end)
    step = (end - start) / count
    minutes: dict[tuple[int, datetime], list[float]] = {}
    chunk = 50_000
    for offset in range(0, count, chunk):
        rows = []
        for i in range(offset, min(count, offset + chunk)):
            service_id, canonical, digest = series[i % len(series)]
            value, moment = rng.lognormvariate(-2, 0.6), start + step * i
            rows.append((service_id, METRIC, canonical, digest, value, moment))
            if moment < rolled_until:
                minutes.setdefault((i % len(series), floor_minute(moment)), []).append(value)
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.copy(_copy_sql()) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(_insert_sql(), [(*row[:5], _sqlite_time(row[5])) for row in rows])

    labels = [json.loads(canonical) for _, canonical, _ in series]

    def rollup(index, begin, values):
        service_id, _, digest = series[index]
        return {
            "service_id": service_id,
            "name": METRIC,
            "labels": labels[index],
            "labels_hash": digest,
            "start": begin,
            "count": len(values),
            "sum": sum(values),
            "min": min(values),
            "max": max(values),
            "last": values[-1],
            "sketch": sketch_dumps(sketch_from_values(values)),
        }

    hours: dict[tuple[int, datetime], list[float]] = {}
    for (index, minute), values in minutes.items():
        hours.setdefault((index, floor_hour(minute)), []).extend(values)
    with transaction.atomic():
        insert(MinuteRollup, (rollup(index, minute, values) for (index, minute), values in minutes.items()))
        insert(HourRollup, (rollup(index, hour, values) for (index, hour), values in hours.items()))
        RollupState.objects.create(key="minute", rolled_until=rolled_until, claimed_until=rolled_until)


def wipe() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from monitoring.alerting.models import Alert, AlertEvent, AlertRule, Channel, Delivery
    from monitoring.models import (
        HealthCheck,
        HealthCheckResult,
        HourRollup,
        Metric,
        MetricSample,
        MinuteRollup,
        RollupState,
    )
    from portal.models import Service

    big = [Delivery, AlertEvent, Alert, HealthCheckResult, MetricSample, MinuteRollup, HourRollup]
    with connection.cursor() as cursor:
        for model in big:  # no cascade to collect: their dependents are emptied first
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
    for model in [RollupState, AlertRule, Channel, HealthCheck, Metric, Service, get_user_model()]:
        model.objects.all().delete()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM")


def pages(ids: dict, now: datetime) -> list[tuple[str, str]]:
    since = (now - timedelta(days=DAYS)).isoformat().replace("+00:00", "Z")
    query = f"name={METRIC}&since={since}&step=3600"
    admin = [
        ("alerting/alert", ""),
        ("alerting/alert", "?status__exact=resolved"),
        ("alerting/alert", "?q=r7"),
        ("alerting/alertevent", ""),
        ("alerting/alertevent", "?kind__exact=resolved"),
        ("alerting/delivery", ""),
        ("alerting/delivery", "?status__exact=sent"),
        ("monitoring/healthcheckresult", ""),
        ("monitoring/healthcheckresult", "?status__exact=unhealthy"),
        ("monitoring/metricsample", ""),
        ("monitoring/minuterollup", ""),
        ("monitoring/hourrollup", ""),
        ("monitoring/healthcheck", ""),
    ]
    return [
        *[(f"admin {model}{args}", f"/admin/{model}/{args}") for model, args in admin],
        ("page home", "/"),
        ("page alerts (open)", "/alerts/"),
        ("page alerts (all)", "/alerts/?status=all"),
        ("page alerts (resolved, one service)", "/alerts/?status=resolved&service=svc-01"),
        ("page alert", f"/alerts/{ids['alert']}/"),
        ("page monitoring", "/monitoring/"),
        ("page service", "/monitoring/services/svc-00/?range=7d"),
        ("page health", "/monitoring/health/"),
        ("page health check", f"/monitoring/health/{ids['check']}/"),
        ("api alerts", "/api/v1/alerts/"),
        ("api alerts ?status=resolved", "/api/v1/alerts/?status=resolved"),
        ("api alerts ?service=", "/api/v1/alerts/?service=svc-01"),
        ("api alerts ?severity=", "/api/v1/alerts/?severity=critical"),
        ("api alert-events", "/api/v1/alert-events/"),
        ("api alert-events ?alert=", f"/api/v1/alert-events/?alert={ids['alert']}"),
        ("api alert-events ?kind=", "/api/v1/alert-events/?kind=resolved"),
        ("api alert-deliveries", "/api/v1/alert-deliveries/"),
        ("api alert-deliveries ?channel=", f"/api/v1/alert-deliveries/?channel={ids['channel']}"),
        ("api alert-deliveries ?status=", "/api/v1/alert-deliveries/?status=sent"),
        ("api health-check-results", "/api/v1/health-check-results/"),
        ("api health-check-results ?check=", f"/api/v1/health-check-results/?health_check={ids['check']}"),
        ("api metrics/query 60 series 7 d", f"/api/v1/metrics/query/?{query}&agg=p95"),
        ("api metrics/query 60 series 7 d avg", f"/api/v1/metrics/query/?{query}&agg=avg"),
        ("api metrics/series 7 d", f"/api/v1/metrics/series/?name={METRIC}&since={since}"),
    ]


def request(client, url: str) -> None:
    response = client.get(url, HTTP_ACCEPT="application/json" if url.startswith("/api/") else "text/html")
    assert response.status_code == 200, (url, response.status_code, response.content[:300])


def query_counts(client, urls: list[tuple[str, str]]) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for label, url in urls:
        request(client, url)  # warm: content types, sessions, templates
        with CaptureQueriesContext(connection) as captured:
            request(client, url)
        counts[label] = len(captured)
    return counts


def p95(durations: list[float]) -> float:
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes (default 1)")
    parser.add_argument("--repeat", type=int, default=10, help="timed requests per page")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--only", default="", help="measure only pages whose label contains this")
    args = parser.parse_args()
    os.environ["METRICS_FLUSH_ENABLED"] = "false"
    label, cleanup = throwaway_database("bench_pages", DEFAULT_POSTGRES if args.postgres else None)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    try:
        call_command("migrate", verbosity=0)
        now = datetime.now(tz=UTC)
        client = Client()
        counts = {}
        for phase, scale in (("1/10", args.scale / 10), ("full", args.scale)):
            wipe()
            sizes = sizes_at(scale)
            began = time.perf_counter()
            ids = build(sizes, now)
            built = time.perf_counter() - began
            print(f"{label}, {phase} data: " + ", ".join(f"{n:,} {k}" for k, n in sizes.items()), end="")
            print(f" (built in {built:.0f} s)", flush=True)
            client.force_login(get_user_model().objects.get(username="bench"))
            urls = [(name, url) for name, url in pages(ids, now) if args.only in name]
            counts[phase] = query_counts(client, urls)
        # CPU time of this process is printed beside wall time: on a shared machine wall time
        # includes waiting for a core, and SQLite runs in this process (not so PostgreSQL).
        print(
            f"\n{'page':44} {'queries 1/10 → full':>20} {'median ms':>10} {'p95 ms':>7} {'CPU p95':>8} {'p95/goal':>9}"
        )
        slow, growing = [], []
        for name, url in urls:
            durations, cpu = [], []
            for _ in range(args.repeat):
                began, began_cpu = time.perf_counter(), time.process_time()
                request(client, url)
                durations.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            worst = p95(durations)
            small, full = counts["1/10"][name], counts["full"][name]
            flag = (" SLOW" if worst > GOAL_MS else "") + (" QUERIES GROW" if full != small else "")
            slow += [name] if worst > GOAL_MS else []
            growing += [name] if full != small else []
            print(
                f"{name:44} {small:>9} → {full:<8} {statistics.median(durations):>10.1f} {worst:>7.1f} "
                f"{p95(cpu):>8.1f} {worst / GOAL_MS:>8.2f}x{flag}",
                flush=True,
            )
        print(f"\n{len(urls) - len(slow)}/{len(urls)} pages under {GOAL_MS} ms p95; ", end="")
        print(f"{len(urls) - len(growing)}/{len(urls)} with the same query count at 1/10 and full data")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
