"""Sentry envelopes per second through the envelope endpoint, against executemany of the same rows.

gunicorn serves the portal (2 worker processes by default, DEBUG off) on a throwaway database;
client threads post envelopes as sentry-sdk sends them (one event each, gzip, X-Sentry-Auth),
events with ~30 frames and context lines falling into a few hundred distinct groups. The endpoint
prepares each event (normalize, scrub, fingerprint) and writes it to the inbox with one insert;
the grouping runs off the request in the inbox drain (monitoring/errors/inbox.py), timed here in
this process over everything the clients sent (no task worker runs, so nothing drains meanwhile).
Then the rows the drain stored are inserted again, with new event ids, by one executemany into
the same table: the floor of what storing them costs. Printed side by side: accepted events/s
through the endpoint, drained (grouped and stored) events/s, executemany rows/s, the ratios, the
per-event cost of grouping (fingerprint) and of the whole preparation (normalize + scrub +
fingerprint) measured in this process, and whether the goal (>= 1,000 events/s accepted through
the endpoint on SQLite with 2 web processes) is met.

    .venv/bin/python bench/error_ingest.py                          # SQLite, 2,000 events
    .venv/bin/python bench/error_ingest.py --events 10000 --clients 8 --workers 2
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/error_ingest.py
"""

import argparse
import gzip
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import free_port, server_env, start_gunicorn  # noqa: E402 (after sys.path)
from throwaway_db import throwaway_database  # noqa: E402

GOAL = 1000.0  # events/s on SQLite with 2 web processes (issue: Sentry SDK compatibility)


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
    """Microseconds per event: grouping alone (fingerprint of the normalized event), and all of
    the preparation before the database (bounding, scrubbing, grouping: event_normalize)."""
    from monitoring.errors.fingerprint import fingerprint
    from monitoring.errors.normalize import event_normalize

    now = datetime.now(UTC)
    began = time.perf_counter()
    normalized = [event_normalize(event, now=now)["event"] for event in events]
    prepare = (time.perf_counter() - began) / len(events) * 1e6
    began = time.perf_counter()
    for event in normalized:
        fingerprint(event)
    grouping = (time.perf_counter() - began) / len(events) * 1e6
    return grouping, prepare


def post_all(base: str, setup: dict, bodies: list[bytes], clients: int) -> tuple[float, list[str], list[float]]:
    """Seconds to post every body; the non-200 answers; each answer's latency."""
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

    def client() -> None:
        with httpx.Client(base_url=base, timeout=30.0) as http:
            while True:
                with lock:
                    body = next(pending, None)
                if body is None:
                    return
                began = time.perf_counter()
                response = http.post(path, content=body, headers=headers)
                with lock:
                    latencies.append(time.perf_counter() - began)
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, failures, latencies


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
    parser.add_argument("--events", type=int, default=2000, help="events to send, one per envelope (default 2000)")
    parser.add_argument("--groups", type=int, default=300, help="distinct groups among them (default 300)")
    parser.add_argument("--frames", type=int, default=30, help="frames per stack (default 30)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    args = parser.parse_args()

    given = os.environ.get("DATABASE_URL", "")
    label, cleanup = throwaway_database("bench_errors", given if given.startswith("postgres") else None)
    if label == "SQLite":
        folder = Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///")).parent

        def cleanup():
            shutil.rmtree(folder, ignore_errors=True)

    env = server_env()
    env["ERRORS_INGEST_RATE_PER_MINUTE"] = "10000000"  # measure the ingest, not the rate limit
    os.environ.update({k: env[k] for k in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT")})
    log_path = Path(tempfile.mkdtemp(prefix="bench_errors_")) / "gunicorn.log"
    gunicorn = None
    try:
        import django

        django.setup()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        events = [make_event(seq, args.groups, args.frames) for seq in range(args.events)]
        bodies = [envelope_bytes(event) for event in events]
        warm = [envelope_bytes(make_event(seq, args.groups, args.frames)) for seq in range(args.groups)]
        setup = prepare(events)
        grouping_us, prepare_us = preparation_cost(events[:500])
        port = free_port()
        gunicorn = start_gunicorn(args.workers, port, env, log_path)
        base = f"http://127.0.0.1:{port}"
        from monitoring.errors.inbox import inbox_drain
        from monitoring.errors.models import ErrorEvent, ErrorGroup, ErrorInbox

        # Warm-up: every group exists and every worker has loaded its code before the clock runs.
        _, failures, _ = post_all(base, setup, warm, args.clients)
        inbox_drain()
        seconds, more, latencies = post_all(base, setup, bodies, args.clients)
        failures += more
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        waiting = ErrorInbox.objects.count()
        began = time.perf_counter()
        drained = inbox_drain()
        drain_seconds = time.perf_counter() - began
        stored = ErrorEvent.objects.filter(service_id=setup["service"]).count()
        group_count = ErrorGroup.objects.filter(service_id=setup["service"]).count()
        rows, many_rate = executemany_rate(setup["service"])
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.kill()
        cleanup()

    from django.conf import settings

    rate = args.events / seconds
    drain_rate = drained.stored / drain_seconds if drained.stored else 0.0
    size = statistics.mean(len(b) for b in bodies)
    print(
        f"error ingest on {label}: gunicorn with {args.workers} workers (DEBUG {'on' if settings.DEBUG else 'off'}), "
        f"{args.clients} clients, {args.events} events ({args.frames} frames, {group_count} groups, "
        f"{size / 1024:.1f} KB gzip each)"
    )
    p50 = statistics.median(latencies) * 1e3
    print(f"  envelope endpoint  {rate:8.0f} events/s  accepted ({seconds:.2f} s; p50 {p50:.1f} ms per envelope)")
    print(
        f"  inbox drain        {drain_rate:8.0f} events/s  grouped and stored "
        f"({drained.stored} of {waiting} waiting in {drained.batches} batches, {drain_seconds:.2f} s, one process)"
    )
    print(f"  executemany rows   {many_rate:8.0f} rows/s    ({rows} rows, one transaction)")
    print(f"  ratio              {many_rate / rate:8.1f}x    (executemany / endpoint)")
    print(f"  ratio              {many_rate / drain_rate if drain_rate else 0:8.1f}x    (executemany / drain)")
    print(
        f"  per event in-process: grouping {grouping_us:.0f} µs of {prepare_us:.0f} µs "
        "normalize + scrub + fingerprint (on the request)"
    )
    print(f"  goal >= {GOAL:.0f} events/s accepted: {'met' if rate >= GOAL else 'NOT met'}")
    bad = bool(failures) or stored != args.events + args.groups
    if failures:
        print(f"  {len(failures)} envelopes refused, e.g. {failures[0]}")
    if stored != args.events + args.groups:
        print(f"  stored {stored} events, expected {args.events + args.groups}")
    if bad:
        print(f"  gunicorn log: {log_path}")
    else:
        shutil.rmtree(log_path.parent, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
