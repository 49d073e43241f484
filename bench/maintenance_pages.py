"""Maintenance pages and endpoints with few and with many runs: queries and p95 per page, and
the ratio of the two p95s (a list that scans history grows with it; one that uses its indexes
does not).

    .venv/bin/python bench/maintenance_pages.py                 # 1,000 vs 100,000 runs on SQLite
    .venv/bin/python bench/maintenance_pages.py --runs 20000    # quicker
    .venv/bin/python bench/maintenance_pages.py --postgres      # PostgreSQL at 127.0.0.1 (temp database)

100 tasks on 20 environments; runs spread over the last 60 days with the changes reporting reads
(packages, bytes freed), every 10th task an audit whose runs list 5 vulnerabilities. Each page is
requested --repeat times with Django's test client as an admin.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throwaway_db import DEFAULT_POSTGRES, throwaway_database

PAGES = [
    "/maintenance/",
    "/maintenance/vulnerabilities/",
    "/api/v1/maintenance/tasks/",
    "/api/v1/maintenance/runs/",
    "/api/v1/maintenance/runs/?status=failed",
    "/api/v1/maintenance/summary/?days=30",
    "/admin/maintenance/maintenancerun/",
]
STATUSES = ["succeeded"] * 7 + ["failed", "rolled_back", "partial"]
TASKS, ENVIRONMENTS = 100, 20


def build(runs: int, *, seed: int = 7) -> None:
    from django.utils import timezone

    from maintenance.models import Environment, MaintenanceRun, MaintenanceTask
    from maintenance.models.runs import change_figures

    MaintenanceRun.objects.all().delete()
    if not MaintenanceTask.objects.exists():
        now = timezone.now()
        envs = [
            Environment.objects.create(name=f"env{i}", python=sys.executable, project_dir=tempfile.gettempdir())
            for i in range(ENVIRONMENTS)
        ]
        for i in range(TASKS):
            kind = "security_audit" if i % 10 == 0 else ("cleanup" if i % 2 else "dependency_update")
            MaintenanceTask.objects.create(
                kind=kind, title=f"task {i}", environment=envs[i % ENVIRONMENTS], schedule="daily",
                created_at=now, updated_at=now,
            )  # fmt: skip
    tasks = list(MaintenanceTask.objects.all())
    rng = random.Random(seed)
    end = datetime.now(UTC)
    batch = []
    for n in range(runs):
        task = tasks[n % len(tasks)]
        at = end - timedelta(seconds=rng.uniform(0, 60 * 86400))
        if task.kind == "security_audit":
            changes = {"vulnerabilities": [
                {"id": f"PYSEC-{n}-{k}", "package": f"pkg{k}", "version": "1.0", "reachable": k % 2 == 0}
                for k in range(5)
            ]}  # fmt: skip
        elif task.kind == "cleanup":
            changes = {"files_removed": rng.randint(0, 500), "bytes_freed": rng.randint(0, 10**8)}
        else:
            changes = {"packages": [{"name": f"p{k}", "from": "1.0", "to": "1.1"} for k in range(rng.randint(0, 4))]}
        batch.append(
            MaintenanceRun(
                task=task, trigger="schedule", status=rng.choice(STATUSES), created_at=at, started_at=at,
                finished_at=at + timedelta(seconds=30), summary="done", changes=changes, log="x" * 2000,
                **change_figures(changes),  # as run_finish stores a run
            )
        )  # fmt: skip
        if len(batch) == 5000:
            MaintenanceRun.objects.bulk_create(batch)
            batch.clear()
    MaintenanceRun.objects.bulk_create(batch)


def measure(client, repeat: int) -> dict[str, tuple[int, float]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    out = {}
    for url in PAGES:
        client.get(url)  # warm
        times = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        times.sort()
        out[url] = (len(ctx), times[max(0, int(len(times) * 0.95) - 1)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_POSTGRES, default=None)
    args = parser.parse_args()
    label, cleanup = throwaway_database("bench_maintenance", args.postgres)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from tests.factories import UserFactory

    try:
        call_command("migrate", verbosity=0)
        client = Client()
        client.force_login(UserFactory(username="bench", is_superuser=True, is_staff=True))
        results = {}
        for size in (args.small, args.runs):
            start = time.perf_counter()
            build(size)
            print(f"{label}: {size:,} runs built in {time.perf_counter() - start:.1f} s", flush=True)
            results[size] = measure(client, args.repeat)
        print(f"\n{'page':45} {'queries':>9} {'p95 small':>10} {'p95 large':>10} {'ratio':>6}")
        for url in PAGES:
            (q_small, small), (q_large, large) = results[args.small][url], results[args.runs][url]
            print(f"{url:45} {q_small:>4}/{q_large:<4} {small:>8.1f}ms {large:>8.1f}ms {large / small:>6.1f}")
        ratios = [results[args.runs][u][1] / results[args.small][u][1] for u in PAGES]
        print(f"\nmedian ratio large/small p95: {statistics.median(ratios):.1f}, worst {max(ratios):.1f}")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
