"""One scrape sweep over 200 Prometheus exporters of 500 series each: wall time and rows written.

A local HTTP server (a thread of this process) serves every target's text exposition: per target
200 counter series, 200 gauge series and a histogram of 10 label sets x (8 buckets + _sum +
_count), 500 sample lines in all. The sweep (monitoring.integrations.scrape.scrape_sweep) runs in
`--workers` processes started together, as django-q2 workers would run it; they share the
targets through the claims. A first sweep records the counters' baselines; the second one, timed,
is a steady-state sweep (every counter has moved). Printed: each sweep's wall time, rows written,
rows/s, and the ratio of the goal (< 10 s on SQLite with 2 workers) to the measured time.

    .venv/bin/python bench/scrape.py                       # SQLite, 200 x 500, 2 workers
    .venv/bin/python bench/scrape.py --targets 50 --workers 1
    .venv/bin/python bench/scrape.py --postgres postgres://postgres@127.0.0.1:5432
"""

import argparse
import logging
import multiprocessing
import os
import resource
import shutil
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throwaway_db import throwaway_database  # noqa: E402 (after sys.path)

GOAL_SECONDS = 10.0  # one sweep of 200 x 500 on SQLite with 2 workers (issue: scrape targets)


def exposition(target: int, round_: int, series: int) -> bytes:
    """`series` sample lines: counters and gauges split what the histogram leaves."""
    lines = []
    histogram_sets = max(1, series // 50)
    rest = series - histogram_sets * 10
    counters, gauges = rest // 2, rest - rest // 2
    lines.append("# TYPE app_requests_total counter")
    lines += [
        f'app_requests_total{{route="/r{i}",code="200"}} {1000 * target + i + 7 * round_}' for i in range(counters)
    ]
    lines.append("# TYPE app_queue_depth gauge")
    lines += [f'app_queue_depth{{queue="q{i}"}} {(i * 13 + round_) % 97}' for i in range(gauges)]
    lines.append("# TYPE app_latency_seconds histogram")
    for h in range(histogram_sets):
        cumulative = 0
        for le in ("0.005", "0.01", "0.05", "0.1", "0.5", "1.0", "5.0", "+Inf"):
            cumulative += 3 + round_ + h
            lines.append(f'app_latency_seconds_bucket{{view="v{h}",le="{le}"}} {cumulative}')
        lines.append(f'app_latency_seconds_sum{{view="v{h}"}} {cumulative * 0.04:.3f}')
        lines.append(f'app_latency_seconds_count{{view="v{h}"}} {cumulative}')
    return ("\n".join(lines) + "\n").encode()


class Exporters(BaseHTTPRequestHandler):
    bodies: dict[str, bytes] = {}

    def do_GET(self):
        body = self.bodies.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def sweep_in_child(now, results):
    from django.db import connections

    from monitoring.integrations.scrape import scrape_sweep

    connections.close_all()  # the parent's connection is not this process's to use
    outcome = scrape_sweep(now=now)
    results.put((outcome.scraped, outcome.failed, outcome.rows))
    connections.close_all()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_cpu() -> float | None:
    """CPU seconds of a PostgreSQL server on this machine so far (None when none is visible):
    every `postgres` process's own time plus what it reaped of its exited children, so backends
    that end during a sweep still count (the postmaster adds their time when it waits for them)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if name == "postgres" or name.startswith("postgres:"):
            found = True
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks if found else None


def sweep(workers: int, now) -> tuple[float, float, int, int, int]:
    """`workers` processes sweeping at once -> (wall s, their CPU s, scraped, failed, rows)."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=sweep_in_child, args=(now, results)) for _ in range(workers)]
    started, cpu = time.perf_counter(), children_cpu()
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    return elapsed, children_cpu() - cpu, *(sum(o[i] for o in outcomes) for i in range(3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a throwaway database is made on it)")
    args = parser.parse_args()
    label, cleanup = throwaway_database("bench_scrape", args.postgres)
    sqlite_folder = os.environ["DATABASE_URL"].removeprefix("sqlite:///").rsplit("/", 1)[0]

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    from django.core.management import call_command
    from django.utils import timezone

    from monitoring.integrations.models import ScrapeTarget
    from monitoring.models import MetricSample
    from portal.models import Service

    try:
        call_command("migrate", verbosity=0)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Exporters)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        services = [Service.objects.create(name=f"Svc {i}", slug=f"svc-{i}") for i in range(20)]
        ScrapeTarget.objects.bulk_create(
            ScrapeTarget(service=services[i % 20], url=f"{base}/t{i}", labels={"instance": f"i{i}"})
            for i in range(args.targets)
        )
        start = timezone.now()
        print(f"{label}: {args.targets} targets x {args.series} series, {args.workers} worker processes")
        for round_, title in enumerate(["first sweep (baselines)", "second sweep (timed)"]):
            Exporters.bodies = {f"/t{i}": exposition(i, round_, args.series) for i in range(args.targets)}
            before = MetricSample.objects.count()
            server_before = server_cpu() if label != "SQLite" else None
            elapsed, cpu, scraped, failed, rows = sweep(args.workers, start + timedelta(minutes=round_))
            db_cpu = "" if server_before is None else f", of the database server {server_cpu() - server_before:.2f} s"
            stored = MetricSample.objects.count() - before
            print(
                f"  {title:26} {elapsed:6.2f} s (CPU of the workers {cpu:.2f} s{db_cpu})  scraped {scraped}, "
                f"failed {failed}, rows written {rows:,} "
                f"(stored {stored:,}), {rows / elapsed:,.0f} rows/s"
            )
        print(f"  goal: one sweep < {GOAL_SECONDS:.0f} s; ratio goal/measured = {GOAL_SECONDS / elapsed:.2f}x ", end="")
        print("(met)" if elapsed < GOAL_SECONDS else "(NOT met)")
        # On a busy machine the wall time is the CPU's queue; this is what the cores would need.
        per_worker = cpu / args.workers
        print(f"  CPU per worker {per_worker:.2f} s: goal/CPU per worker = {GOAL_SECONDS / per_worker:.2f}x")
        print(f"  load average while measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        server.shutdown()
    finally:
        cleanup()
        if label == "SQLite":
            shutil.rmtree(sqlite_folder, ignore_errors=True)


if __name__ == "__main__":
    main()
