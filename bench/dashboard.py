"""The overview dashboard (the home page) over a large data set: query count and render time per range.

    .venv/bin/python bench/dashboard.py                # the issue's sizes on SQLite
    .venv/bin/python bench/dashboard.py --scale 0.1    # a tenth of them, quicker
    .venv/bin/python bench/dashboard.py --postgres     # PostgreSQL at 127.0.0.1 (temp database)

Data set at --scale 1 (issue 15): 100k alerts, 1M raw request samples in 60 series over 7 days
with their minute and hour rollups, 87k health-check results (bench/pages.py's builders), plus
10k error events in 200 groups with their hour counts and regressions, 100k feature-usage events
over 30 days folded into hour rollups by the real fold job, 10 scanned repositories and 300
maintenance runs with one audit's vulnerabilities. Alert events and deliveries are kept small:
the dashboard does not read them.

The page is first built on a tenth of the data (query count per range), then at full size, where
each range is requested --repeat times with Django's test client as an admin; its two charts are
measured the same way. Goal: the same number of queries at both sizes and p95 < 300 ms on SQLite.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pages
from throwaway_db import DEFAULT_POSTGRES, throwaway_database

GOAL_MS = 300
SIZES = {"error_events": 10_000, "usage_events": 100_000}
GROUPS, FEATURES, REPOSITORIES, SCANS, RUNS = 200, 50, 10, 30, 300
RANGES = ("1h", "24h", "7d", "30d")


def build_more(sizes: dict[str, int], now: datetime, rng: random.Random) -> None:
    """Error groups and events, usage events (folded), scans and maintenance runs."""
    from django.db import transaction

    from analytics.models import UsageEvent
    from analytics.rollups import rollup_run
    from codehealth.models import CodeRepository, CodeScan
    from maintenance.models import Environment, MaintenanceRun, MaintenanceTask
    from monitoring.errors.models import ErrorEvent, ErrorGroup, ErrorGroupActivity, ErrorGroupHour
    from portal.models import Service

    services = list(Service.objects.order_by("pk").values_list("pk", flat=True))
    events = sizes["error_events"]
    with transaction.atomic():
        groups = ErrorGroup.objects.bulk_create(
            ErrorGroup(
                service_id=services[g % len(services)],
                fingerprint=f"{g:064x}",
                title=f"KeyError: 'k{g}'",
                first_seen=now - timedelta(seconds=rng.uniform(60, 30 * 86400)),
                last_seen=now,
            )
            for g in range(GROUPS)
        )
        hours: dict[tuple[int, datetime], int] = {}
        rows = []
        for i in range(events):
            group = groups[i % GROUPS]
            moment = group.first_seen + (now - group.first_seen) * rng.random()
            hour = moment.replace(minute=0, second=0, microsecond=0)
            hours[(group.pk, hour)] = hours.get((group.pk, hour), 0) + 1
            rows.append(
                {"group_id": group.pk, "service_id": group.service_id, "event_id": f"{i:032x}", "time": moment}
                | {"received_at": moment, "message": f"KeyError {i % GROUPS}"}
            )
        pages.insert(ErrorEvent, rows)
        pages.insert(ErrorGroupHour, ({"group_id": g, "hour": h, "count": n} for (g, h), n in hours.items()))
        for group in groups:
            group.times_seen = sum(n for (g, _), n in hours.items() if g == group.pk)
        ErrorGroup.objects.bulk_update(groups, ["times_seen"])
        pages.insert(
            ErrorGroupActivity,
            (
                {
                    "group_id": groups[g].pk,
                    "kind": "regressed",
                    "created_at": now - timedelta(hours=rng.uniform(0, 720)),
                }
                for g in range(0, GROUPS, 4)
            ),
        )
        pages.insert(
            UsageEvent,
            (
                {
                    "service_id": services[i % len(services)],
                    "name": f"feature.{i % FEATURES}",
                    "time": now - timedelta(seconds=30 * 86400 * (i + 0.5) / sizes["usage_events"]),
                    "duration_ms": rng.lognormvariate(3, 0.5),
                    "success": i % 40 != 0,
                }
                for i in range(sizes["usage_events"])
            ),
        )
        for r in range(REPOSITORIES):
            repository = CodeRepository.objects.create(name=f"repo {r}", path=str(Path(__file__).parent))
            CodeScan.objects.bulk_create(
                CodeScan(
                    repository=repository,
                    status="succeeded",
                    queued_at=now - timedelta(days=s),
                    finished_at=now - timedelta(days=s),
                    debt_count=100 + s + r,
                )
                for s in range(SCANS, 0, -1)
            )
        environment = Environment.objects.create(name="app", python=sys.executable, project_dir=str(Path.cwd()))
        audit = MaintenanceTask.objects.create(
            kind="security_audit", title="Audit", environment=environment, created_at=now, updated_at=now
        )
        cleanup = MaintenanceTask.objects.create(kind="refactor", title="Tidy", created_at=now, updated_at=now)
        vulns = [
            {"id": f"PYSEC-{v}", "package": f"pkg{v}", "version": "1.0", "reachable": v % 2 == 0} for v in range(8)
        ]
        MaintenanceRun.objects.bulk_create(
            MaintenanceRun(
                task=audit if i % 10 == 0 else cleanup,
                trigger="schedule",
                status=("succeeded", "failed", "waiting_approval", "succeeded")[i % 4],
                created_at=now - timedelta(hours=i * 2.4),
                finished_at=now - timedelta(hours=i * 2.4),
                changes={"vulnerabilities": vulns} if i % 10 == 0 else {},
            )
            for i in range(RUNS)
        )
    while rollup_run(now=now).get("events"):  # the real fold job, as its schedule would run it
        pass


def wipe_more() -> None:
    from django.db import connection

    from analytics.models import FeatureHourRollup, RollupState, UsageEvent
    from codehealth.models import CodeRepository, CodeScan
    from maintenance.models import Environment, MaintenanceRun, MaintenanceTask
    from monitoring.errors.models import ErrorEvent, ErrorGroup, ErrorGroupActivity, ErrorGroupHour

    with connection.cursor() as cursor:
        for model in (ErrorEvent, ErrorGroupHour, ErrorGroupActivity, UsageEvent, FeatureHourRollup):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
    for model in (ErrorGroup, RollupState, CodeScan, CodeRepository, MaintenanceRun, MaintenanceTask, Environment):
        model.objects.all().delete()


def urls() -> list[tuple[str, str]]:
    found = [(f"page ?range={r}", f"/?range={r}") for r in RANGES]
    found += [(f"chart requests {r}", f"/charts/requests/?range={r}") for r in RANGES]
    found += [(f"chart error events {r}", f"/charts/error-events/?range={r}") for r in RANGES]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes (default 1)")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page and range")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    os.environ["METRICS_FLUSH_ENABLED"] = "false"
    label, cleanup = throwaway_database("bench_dashboard", DEFAULT_POSTGRES if args.postgres else None)
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
            pages.wipe()
            wipe_more()
            sizes = pages.sizes_at(scale)
            # Alert events and deliveries are not read by the dashboard: kept small to build quickly.
            sizes["events"], sizes["deliveries"] = 1000, 1000
            more = {name: max(1, int(n * scale)) for name, n in SIZES.items()}
            began = time.perf_counter()
            pages.build(sizes, now)
            build_more(more, now, random.Random(15))
            built = time.perf_counter() - began
            shown = {k: sizes[k] for k in ("alerts", "samples", "results")} | more
            print(f"{label}, {phase} data: " + ", ".join(f"{n:,} {k}" for k, n in shown.items()), end="")
            print(f" (built in {built:.0f} s)", flush=True)
            client.force_login(get_user_model().objects.get(username="bench"))
            counts[phase] = pages.query_counts(client, urls())
        # CPU time of this process beside wall time: on a shared machine wall time includes
        # waiting for a core, and SQLite runs in this process (not so PostgreSQL).
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        header = f"{'page':26} {'queries 1/10 → full':>20} {'median ms':>10} {'p95 ms':>7} {'CPU p95':>8}"
        print(f"\n{header} {'p95/goal':>9}")
        slow, growing = [], []
        for name, url in urls():
            durations, cpu = [], []
            for _ in range(args.repeat):
                began, began_cpu = time.perf_counter(), time.process_time()
                pages.request(client, url)
                durations.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            worst = pages.p95(durations)
            small, full = counts["1/10"][name], counts["full"][name]
            flag = (" SLOW" if worst > GOAL_MS else "") + (" QUERIES GROW" if full != small else "")
            slow += [name] if worst > GOAL_MS else []
            growing += [name] if full != small else []
            print(
                f"{name:26} {small:>9} → {full:<8} {statistics.median(durations):>10.1f} {worst:>7.1f} "
                f"{pages.p95(cpu):>8.1f} {worst / GOAL_MS:>8.2f}x{flag}",
                flush=True,
            )
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        total = len(urls())
        print(f"\n{total - len(slow)}/{total} under {GOAL_MS} ms p95; ", end="")
        print(f"{total - len(growing)}/{total} with the same query count at 1/10 and full data")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
