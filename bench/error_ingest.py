"""Sentry envelopes per second through the envelope endpoint, against executemany of the same rows.

gunicorn serves the portal as `manage.py runportal` does (portal.startup.web_command: gthread
workers, 2 processes by default, DEBUG off) on a throwaway database; client threads post
envelopes as sentry-sdk sends them (one event each, gzip, X-Sentry-Auth, keep-alive connections)
with events of ~30 frames and context lines falling into a few hundred distinct groups. The
endpoint prepares each event (bound, scrub, fingerprint) and writes it to the inbox with one
insert; grouping runs off the request in the inbox drain (monitoring/errors/inbox.py).

Three phases, printed side by side:
1. endpoint alone: accepted events/s, and the CPU the gunicorn workers and the clients spent
   per envelope (psutil), so the figure can be read on a machine shared with other work;
2. drain alone: what phase 1 left in the inbox, grouped and stored by inbox_drain in this
   process (events/s and CPU per event);
3. both at once: the same clients while a drain process (what a task worker runs) drains in a
   loop; accepted and grouped events/s and the latency from the SDK's answer to the event being
   grouped (p50/p95/max).
Then the stored event rows are inserted again, with new event ids, by one executemany into the
same table: the floor of what storing them costs. Also printed: the per-event cost of grouping
(fingerprint) and of the whole preparation measured in this process, and the goal (>= 1,000
events/s accepted and drained on SQLite with 2 web processes).

    .venv/bin/python bench/error_ingest.py                          # SQLite, 3,000 events
    .venv/bin/python bench/error_ingest.py --events 10000 --clients 8 --workers 2
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/error_ingest.py
"""

import argparse
import gzip
import http.client
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import free_port, server_env  # noqa: E402 (after sys.path)
from throwaway_db import throwaway_database  # noqa: E402

GOAL = 1000.0  # events/s on SQLite with 2 web processes (issue: Sentry SDK compatibility)
# The drain process of phase 3: what a task worker runs, in a loop, writing when each event was grouped.
DRAINER = """
import json, os, sys, time
import django
django.setup()
from monitoring.errors.inbox import inbox_drain
from monitoring.errors.models import ErrorEvent
out, stop = sys.argv[1], sys.argv[2]
seen, last, idle = {}, ErrorEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0, 0
while True:
    result = inbox_drain(batch=500)
    now = time.time()
    for pk, event_id in ErrorEvent.objects.filter(id__gt=last).values_list("id", "event_id"):
        seen[event_id] = now
        last = max(last, pk)
    if not result.claimed:
        if os.path.exists(stop):
            break
        time.sleep(0.02)
json.dump(seen, open(out, "w"))
"""


def make_event(seq: int, groups: int, frames: int) -> dict:
    """An event like sentry-sdk's for an exception `frames` calls deep; `seq % groups` picks the
    call path (module and function names), so the events fall into `groups` groups."""
    group = seq % groups
    stack = []
    for depth in range(frames):
        # The top frames differ per group; the lower ones are the shared framework path.
        module = f"shop.views.v{group}" if depth >= frames - 3 else f"framework.layer{depth}"
        lineno = 40 + depth + seq % 5  # shifting lines do not split a group
        stack.append(
            {
                "filename": module.replace(".", "/") + ".py",
                "abs_path": "/srv/app/" + module.replace(".", "/") + ".py",
                "module": module,
                "function": f"handle_{group}_{depth}" if depth >= frames - 3 else f"dispatch_{depth}",
                "lineno": lineno,
                "context_line": f"    result = next_step(request, order_id={seq})",
                "pre_context": [f"    # line {lineno - i}" for i in range(5, 0, -1)],
                "post_context": [f"    # line {lineno + i}" for i in range(1, 6)],
                "in_app": depth >= frames - 3,
                "vars": {"request": "<WSGIRequest: POST '/checkout'>", "order_id": str(seq), "attempt": "1"},
            }
        )
    now = datetime.now(UTC)
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "platform": "python",
        "level": "error",
        "logger": "shop",
        "server_name": "web-1",
        "release": "shop@1.4.2",
        "environment": "production",
        "exception": {
            "values": [
                {
                    "type": f"Error{group % 17}",
                    "value": f"order {seq} could not be placed",
                    "module": "shop.errors",
                    "mechanism": {"type": "django", "handled": False},
                    "stacktrace": {"frames": stack},
                }
            ]
        },
        "request": {
            "url": "https://shop.example/checkout",
            "method": "POST",
            "headers": {"User-Agent": "Mozilla/5.0", "Cookie": "sessionid=abc", "Accept": "text/html"},
            "query_string": "step=2&token=abc",
            "data": {"quantity": "2", "password": "x"},
        },
        "user": {"id": str(seq % 500), "ip_address": "10.0.0.1"},
        "tags": {"browser": "Firefox", "url": "/checkout"},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.9"}},
        "breadcrumbs": {"values": [{"category": "query", "message": "SELECT 1", "timestamp": now.timestamp()}]},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
    }


def envelope_bytes(event: dict) -> bytes:
    payload = json.dumps(event).encode()
    header = json.dumps({"event_id": event["event_id"], "sent_at": event["timestamp"]}).encode()
    item = json.dumps({"type": "event", "length": len(payload), "content_type": "application/json"}).encode()
    return gzip.compress(b"\n".join([header, item, payload]) + b"\n", compresslevel=6)


def prepare(events: list[dict]) -> dict:
    from django.core.management import call_command
    from django.db import connections

    from monitoring.errors.models import ErrorProject
    from portal.models import Service

    call_command("migrate", verbosity=0)
    service = Service.objects.create(name="shop", slug="shop")
    project = ErrorProject.for_service(service)
    connections.close_all()
    return {"project": project.pk, "key": project.public_key, "service": service.pk}


def preparation_cost(events: list[dict]) -> tuple[float, float]:
    """CPU microseconds per event: grouping alone (fingerprint of the normalized event), and all of
    the preparation before the database (bounding, scrubbing, grouping: event_normalize). The
    best of three warm passes, as a long-running web process prepares them (on a machine shared
    with other work a single pass says more about the neighbours)."""
    from monitoring.errors.fingerprint import fingerprint
    from monitoring.errors.normalize import event_normalize

    now = datetime.now(UTC)
    normalized = [event_normalize(event, now=now)["event"] for event in events]  # warm-up
    prepare = grouping = float("inf")
    for _ in range(3):
        began = time.process_time()
        for event in events:
            event_normalize(event, now=now)
        prepare = min(prepare, (time.process_time() - began) / len(events) * 1e6)
        began = time.process_time()
        for event in normalized:
            fingerprint(event)
        grouping = min(grouping, (time.process_time() - began) / len(events) * 1e6)
    return grouping, prepare


def post_all(port: int, setup: dict, bodies: list[bytes], clients: int) -> dict:
    """Post every body over keep-alive connections (http.client: the cheapest client at hand, so
    the clients take little of the machine from the server). Returns seconds, the non-200 answers,
    each answer's latency and the time (epoch) each event id was answered."""
    path = f"/api/{setup['project']}/envelope/"
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": f"Sentry sentry_key={setup['key']}, sentry_version=7, sentry_client=sentry.python/2.75.0",
    }
    pending = iter(bodies)
    lock = threading.Lock()
    failures: list[str] = []
    latencies: list[float] = []
    answered: dict[str, float] = {}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                body = next(pending, None)
            if body is None:
                connection.close()
                return
            began = time.perf_counter()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
            with lock:
                latencies.append(time.perf_counter() - began)
                if response.status == 200:
                    answered[json.loads(content)["id"]] = time.time()
                else:
                    failures.append(f"{response.status}: {content[:200]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - began, "failures": failures, "latencies": latencies, "answered": answered}


def workers_cpu(master: subprocess.Popen) -> float:
    """CPU seconds (user + system) the gunicorn workers have used so far."""
    total = 0.0
    for child in psutil.Process(master.pid).children():
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def measured_post(gunicorn, port: int, setup: dict, bodies: list[bytes], clients: int) -> dict:
    """post_all, with the CPU of the workers and of this process (the clients) during it."""
    server, own = workers_cpu(gunicorn), time.process_time()
    run = post_all(port, setup, bodies, clients)
    run["server_cpu"] = workers_cpu(gunicorn) - server
    run["client_cpu"] = time.process_time() - own
    return run


def start_gunicorn(workers: int, port: int, env: dict, log_path: Path, worker_class: str) -> subprocess.Popen:
    """gunicorn as runportal starts it (worker class, threads, timeouts), or with another worker class."""
    from portal.startup import web_command

    command = web_command("127.0.0.1", str(port), workers=workers, verbose=False)
    if worker_class != "gthread":
        command[command.index("--worker-class") + 1] = worker_class
    log = open(log_path, "w")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    sys.exit(f"gunicorn did not answer within 60 s; see {log_path}")


def executemany_rate(service_id: int) -> tuple[int, float]:
    """Insert copies of the stored event rows (new event ids) with one executemany; rows/s."""
    from django.db import connection, transaction

    from monitoring.errors.models import ErrorEvent

    table = ErrorEvent._meta.db_table
    columns = [f.column for f in ErrorEvent._meta.concrete_fields if f.column != "id"]
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM {quote(table)} WHERE service_id = %s", [service_id])
        rows = cursor.fetchall()
    at = columns.index("event_id")
    copies = [(*row[:at], uuid.uuid4().hex, *row[at + 1 :]) for row in rows]
    insert = f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(insert, copies)
    return len(copies), len(copies) / (time.perf_counter() - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000, help="events to send, one per envelope (default 3000)")
    parser.add_argument("--groups", type=int, default=300, help="distinct groups among them (default 300)")
    parser.add_argument("--frames", type=int, default=30, help="frames per stack (default 30)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument(
        "--worker-class", choices=("gthread", "sync"), default="gthread", help="default gthread, as runportal"
    )
    args = parser.parse_args()
    if not 100 <= args.events <= 100_000 or not 1 <= args.clients <= 64 or not 1 <= args.workers <= 16:
        parser.error("--events 100 to 100,000, --clients 1 to 64, --workers 1 to 16")

    given = os.environ.get("DATABASE_URL", "")
    label, cleanup = throwaway_database("bench_errors", given if given.startswith("postgres") else None)
    if label == "SQLite":
        folder = Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///")).parent

        def cleanup():
            shutil.rmtree(folder, ignore_errors=True)

    env = server_env()
    env["ERRORS_INGEST_RATE_PER_MINUTE"] = "10000000"  # measure the ingest, not the rate limit
    os.environ.update({k: env[k] for k in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT")})
    os.environ.update(METRICS_FLUSH_ENABLED="false", LOG_LEVEL="WARNING")
    work = Path(tempfile.mkdtemp(prefix="bench_errors_"))
    log_path = work / "gunicorn.log"
    gunicorn = drainer = None
    load_before = os.getloadavg()
    try:
        import django

        django.setup()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        events = [make_event(seq, args.groups, args.frames) for seq in range(2 * args.events)]
        bodies = [envelope_bytes(event) for event in events]
        first, second = bodies[: args.events], bodies[args.events :]
        warm = [envelope_bytes(make_event(seq, args.groups, args.frames)) for seq in range(args.groups)]
        setup = prepare(events)
        grouping_us, prepare_us = preparation_cost(events[:500])
        port = free_port()
        gunicorn = start_gunicorn(args.workers, port, env, log_path, args.worker_class)
        from monitoring.errors.inbox import inbox_drain
        from monitoring.errors.models import ErrorEvent, ErrorGroup, ErrorInbox

        # Warm-up: every group exists and every worker has loaded its code before the clock runs.
        failures = post_all(port, setup, warm, args.clients)["failures"]
        inbox_drain()
        # 1. The endpoint alone (nothing drains meanwhile).
        alone = measured_post(gunicorn, port, setup, first, args.clients)
        waiting = ErrorInbox.objects.count()
        # 2. The drain alone, over what phase 1 left.
        began, cpu = time.perf_counter(), time.process_time()
        drained = inbox_drain()
        drain_seconds, drain_cpu = time.perf_counter() - began, time.process_time() - cpu
        # 3. Both at once: a drain process as a task worker would run it.
        seen_path, stop_path = work / "grouped.json", work / "stop"
        drainer = subprocess.Popen(
            [sys.executable, "-c", DRAINER, str(seen_path), str(stop_path)], cwd=ROOT, env={**os.environ}
        )
        time.sleep(2)  # its Django setup, before the clock runs
        together = measured_post(gunicorn, port, setup, second, args.clients)
        stop_path.touch()
        drainer.wait(timeout=600)
        grouped = json.loads(seen_path.read_text())
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        stored = ErrorEvent.objects.filter(service_id=setup["service"]).count()
        group_count = ErrorGroup.objects.filter(service_id=setup["service"]).count()
        rows, many_rate = executemany_rate(setup["service"])
    finally:
        for proc in (gunicorn, drainer):
            if proc is not None and proc.poll() is None:
                proc.kill()
        cleanup()

    from django.conf import settings

    failures += alone["failures"] + together["failures"]
    rate = args.events / alone["seconds"]
    drain_rate = drained.stored / drain_seconds if drained.stored else 0.0
    size = statistics.mean(len(b) for b in bodies)
    server_ms = alone["server_cpu"] / args.events * 1e3
    client_ms = alone["client_cpu"] / args.events * 1e3
    drain_ms = drain_cpu / max(drained.stored, 1) * 1e3
    answered = together["answered"]
    lags = sorted(grouped[eid] - answered[eid] for eid in answered if eid in grouped)
    last_grouped = max(grouped.values(), default=0.0)
    first_answer = min(answered.values(), default=0.0)
    both_seconds = together["seconds"]
    print(
        f"error ingest on {label}: gunicorn ({args.workers} {args.worker_class} workers, DEBUG "
        f"{'on' if settings.DEBUG else 'off'}), {args.clients} keep-alive clients, {args.events} events per phase "
        f"({args.frames} frames, {group_count} groups, {size / 1024:.1f} KB gzip each); "
        f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} cores"
    )
    p50 = statistics.median(alone["latencies"]) * 1e3
    print(
        f"1 endpoint alone     {rate:8.0f} events/s  accepted ({alone['seconds']:.2f} s; p50 {p50:.1f} ms per envelope)"
    )
    print(
        f"    CPU per envelope   {server_ms:8.2f} ms    gunicorn workers ({server_ms:.2f} cores per 1,000 events/s), "
        f"clients {client_ms:.2f} ms"
    )
    print(
        f"2 drain alone        {drain_rate:8.0f} events/s  grouped and stored "
        f"({drained.stored} of {waiting} in {drained.batches} batches, {drain_seconds:.2f} s, one process, "
        f"{drain_ms:.2f} ms CPU per event)"
    )
    print(
        f"3 both at once       {args.events / both_seconds:8.0f} events/s  accepted, "
        f"{len(grouped) / max(last_grouped - first_answer, 1e-9):.0f} events/s grouped "
        f"(server CPU {together['server_cpu'] / args.events * 1e3:.2f} ms per envelope)"
    )
    if lags:
        p50_lag, p95_lag = lags[len(lags) // 2], lags[int(len(lags) * 0.95)]
        print(
            f"    answered -> grouped latency: p50 {p50_lag * 1e3:.0f} ms, p95 {p95_lag * 1e3:.0f} ms, "
            f"max {lags[-1] * 1e3:.0f} ms ({len(lags)} events)"
        )
    print(f"  executemany rows   {many_rate:8.0f} rows/s    ({rows} rows, one transaction)")
    print(f"  ratio              {many_rate / rate:8.1f}x    (executemany / endpoint)")
    print(f"  ratio              {many_rate / drain_rate if drain_rate else 0:8.1f}x    (executemany / drain)")
    print(
        f"  per event in-process: grouping {grouping_us:.0f} µs of {prepare_us:.0f} µs "
        "bound + scrub + fingerprint (on the request)"
    )
    met = rate >= GOAL and drain_rate >= GOAL
    print(
        f"  goal >= {GOAL:.0f} events/s accepted and drained: {'met' if met else 'NOT met'} "
        f"(accepted {rate:.0f}, drained {drain_rate:.0f}); at the measured CPU, 1,000 events/s takes "
        f"{server_ms:.2f} cores for the endpoint and {drain_ms:.2f} for the drain"
    )
    expected = 2 * args.events + args.groups
    bad = bool(failures) or stored != expected or len(grouped) != args.events
    if failures:
        print(f"  {len(failures)} envelopes refused, e.g. {failures[0]}")
    if stored != expected:
        print(f"  stored {stored} events, expected {expected}")
    if len(grouped) != args.events:
        print(f"  the drain process grouped {len(grouped)} of the {args.events} events of phase 3")
    if bad:
        print(f"  gunicorn log: {log_path}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
