"""Load with faults: nothing lost, nothing doubled (heartbeat pings: at least once).

gunicorn serves the portal with several workers on a throwaway database while client threads
post metric batches (with a service key), heartbeat pings and deployments for a bounded time.
Mid-run one gunicorn worker is SIGKILLed (the master starts another); with --restart-postgres
the run uses a private PostgreSQL server and restarts it too. A client retries whatever failed
(connection reset, timeout, 5xx) until it gets an answer; metric batches and deployments carry
an Idempotency-Key, so a retry of one that was stored writes nothing again. A heartbeat ping is
at least once, as with every heartbeat service: a ping repeated because its answer was lost
changes no check's state, so doubled pings are printed and not counted as a failure. At the end the rows
in the database are counted against what the clients were told was stored. Prints totals (not
ratios): requests, errors, retries, rows expected and stored, duplicates, lost, throughput.

    .venv/bin/python bench/load.py                       # SQLite file in a temporary folder, 20 s
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/load.py
                                                         # a throwaway database on that server
    .venv/bin/python bench/load.py --restart-postgres    # a private PostgreSQL, restarted mid-run
    .venv/bin/python bench/load.py --duration 60 --clients 16 --workers 4

Exits 1 when a row was lost, a metric batch or deployment doubled, or a request was refused
(4xx), so CI can run it.
The PostgreSQL restart lives here rather than in the test suite: restarting the shared server
would break every other test running against it; the private server disturbs nobody.
"""

import argparse
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from throwaway_db import throwaway_database  # noqa: E402 (after sys.path)

BATCH = 100  # samples per metrics request
KINDS = ("metrics", "ping", "metrics", "deployment")  # what each client sends, in turn
GIVE_UP_AFTER = 60.0  # seconds a client keeps retrying one request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the database ---------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL server of our own (initdb in a temporary folder, a free port), so it can be
    restarted without disturbing anyone else's. Run as the `postgres` user when we are root."""

    def __init__(self):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found and not shutil.which("pg_ctl"):
            sys.exit("--restart-postgres needs PostgreSQL's server binaries (pg_ctl, initdb)")
        self.bin = found[-1].parent if found else Path(shutil.which("pg_ctl")).parent
        self.dir = Path(tempfile.mkdtemp(prefix="bench_load_pg_"))
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def start(self) -> str:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._pg_ctl("start")
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w", action)

    def restart(self) -> float:
        began = time.monotonic()
        self._pg_ctl("restart")  # -m fast is the default: open connections are cut
        return time.monotonic() - began

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def choose_database(args) -> tuple[str, callable, PrivatePostgres | None]:
    """DATABASE_URL for this run; returns (label, cleanup, private server or None)."""
    if args.restart_postgres:
        server = PrivatePostgres()
        label, cleanup = throwaway_database("bench_load", server.start())

        def stop_all():
            try:
                cleanup()
            finally:
                server.stop()

        return f"{label} (private server, restarted mid-run)", stop_all, server
    given = os.environ.get("DATABASE_URL", "")
    label, cleanup = throwaway_database("bench_load", given if given.startswith("postgres") else None)
    if label == "SQLite":
        folder = Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///")).parent

        def cleanup():
            shutil.rmtree(folder, ignore_errors=True)

    return label, cleanup, None


def server_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PORTAL_TASKS_SYNC")}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        PORTAL_SERVICE_WRITE_RATE="1000000/min",  # measure the server, not the throttle
        METRICS_FLUSH_ENABLED="false",
        LOG_LEVEL="WARNING",
    )
    return env


def prepare() -> dict:
    """Migrate the throwaway database and create what the clients use."""
    from django.core.management import call_command
    from django.db import connections

    from monitoring.models import HealthCheck
    from portal.keys import service_key_issue
    from portal.models import Service

    call_command("migrate", verbosity=0)
    service = Service.objects.create(name="load", slug="load")
    check = HealthCheck.objects.create(name="load job", kind="heartbeat", service=service, period_seconds=3600)
    key = service_key_issue(service=service, name="load").raw
    connections.close_all()
    return {"key": key, "ping": f"/ping/{check.uuid}", "check": check.pk, "service": service.pk}


# --- the clients ----------------------------------------------------------------------------


@dataclass
class Tally:
    requests: int = 0
    errors: dict = field(default_factory=dict)  # what went wrong -> how often
    retries: int = 0
    refused: list = field(default_factory=list)  # 4xx answers: a bug in the portal or in this bench
    stored: dict = field(default_factory=lambda: {"metrics": 0, "ping": 0, "deployment": 0})
    gave_up: dict = field(default_factory=lambda: {"metrics": 0, "ping": 0, "deployment": 0})
    seconds: dict = field(default_factory=lambda: {"metrics": [], "ping": [], "deployment": []})  # answered ones
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


def request_for(kind: str, client_id: int, seq: int, setup: dict) -> tuple[str, dict, dict]:
    op = f"c{client_id}-{seq}"
    auth = {"Authorization": f"Bearer {setup['key']}"}
    if kind == "metrics":
        now = datetime.now(tz=UTC).isoformat()
        base = (client_id * 1_000_000 + seq) * BATCH  # unique per sample: duplicates are countable
        samples = [{"name": "load_probe", "value": base + i, "time": now} for i in range(BATCH)]
        return "/api/v1/metrics/", {"json": {"samples": samples}}, {**auth, "Idempotency-Key": op}
    if kind == "ping":
        return setup["ping"], {"content": op.encode()}, {}
    return "/api/v1/deployments/", {"json": {"version": op, "environment": "load"}}, {**auth, "Idempotency-Key": op}


def send(http: httpx.Client, kind: str, client_id: int, seq: int, setup: dict, tally: Tally) -> None:
    """One logical write, retried until the server says it is stored (or refused)."""
    path, body, headers = request_for(kind, client_id, seq, setup)
    give_up_at = time.monotonic() + GIVE_UP_AFTER
    attempt = 0
    while True:
        attempt += 1
        with tally.lock:
            tally.requests += 1
            tally.retries += attempt > 1
        began = time.monotonic()
        try:
            response = http.post(path, headers=headers, **body)
        except httpx.TransportError as exc:
            tally.error(type(exc).__name__)
        else:
            if response.status_code < 300:
                with tally.lock:
                    tally.stored[kind] += 1
                    tally.seconds[kind].append(time.monotonic() - began)
                return
            if response.status_code < 500 and response.status_code != 429:
                with tally.lock:
                    tally.refused.append(f"{kind} {response.status_code}: {response.text[:200]}")
                return
            tally.error(f"HTTP {response.status_code}")
        if time.monotonic() > give_up_at:
            with tally.lock:
                tally.gave_up[kind] += 1
            return
        time.sleep(min(1.0, 0.05 * attempt))


def client_loop(base_url: str, client_id: int, deadline: float, setup: dict, tally: Tally) -> None:
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        seq = 0
        while time.monotonic() < deadline:
            send(http, KINDS[seq % len(KINDS)], client_id, seq, setup, tally)
            seq += 1


# --- the server and the faults --------------------------------------------------------------


def start_gunicorn(workers: int, port: int, env: dict, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 (closed with the process, in main)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "portal.wsgi:application",
            "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--timeout", "30",
            "--graceful-timeout", "10", "--log-level", "warning",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
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


def kill_a_worker(master: subprocess.Popen, at: float, events: list) -> None:
    time.sleep(max(0.0, at - time.monotonic()))
    children = psutil.Process(master.pid).children()
    if not children:
        events.append("no gunicorn worker to kill")
        return
    victim = children[0]
    os.kill(victim.pid, signal.SIGKILL)
    events.append(f"SIGKILLed gunicorn worker {victim.pid} at {at - START:.1f} s")


def restart_postgres(server: PrivatePostgres, at: float, events: list) -> None:
    time.sleep(max(0.0, at - time.monotonic()))
    took = server.restart()
    events.append(f"restarted PostgreSQL at {at - START:.1f} s (down and back in {took:.1f} s)")


# --- counting -------------------------------------------------------------------------------


def count_rows(setup: dict) -> dict[str, tuple[int, int]]:
    """kind -> (rows stored, rows beyond the first for the same logical write)."""
    from django.db import connections
    from django.db.models import Count

    from monitoring.models import HeartbeatPing, MetricSample
    from portal.models import Deployment

    connections.close_all()  # the connection from before a PostgreSQL restart is gone
    tables = {
        "metrics": (MetricSample.objects.filter(name="load_probe"), "value"),
        "ping": (HeartbeatPing.objects.filter(health_check_id=setup["check"]), "body"),
        "deployment": (Deployment.objects.filter(service_id=setup["service"]), "version"),
    }
    counts = {}
    for kind, (rows, identity) in tables.items():
        repeated = rows.values(identity).annotate(n=Count("pk")).filter(n__gt=1)
        counts[kind] = (rows.count(), sum(r["n"] - 1 for r in repeated))
    return counts


START = time.monotonic()


def main() -> int:
    global START
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes (default 3)")
    parser.add_argument("--kill-at", type=float, default=0.4, help="when to SIGKILL a worker, as a fraction of the run")
    parser.add_argument("--restart-postgres", action="store_true", help="use a private PostgreSQL and restart it")
    parser.add_argument("--restart-at", type=float, default=0.7, help="when to restart PostgreSQL (fraction)")
    args = parser.parse_args()

    label, cleanup, private = choose_database(args)
    env = server_env()
    os.environ.update({k: env[k] for k in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT")})
    log_path = Path(tempfile.mkdtemp(prefix="bench_load_")) / "gunicorn.log"
    gunicorn = None
    try:
        import django

        django.setup()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request drowns the result
        setup = prepare()
        port = free_port()
        gunicorn = start_gunicorn(args.workers, port, env, log_path)
        tally, events = Tally(), []
        START = time.monotonic()
        deadline = START + args.duration
        threads = [
            threading.Thread(target=client_loop, args=(f"http://127.0.0.1:{port}", c, deadline, setup, tally))
            for c in range(args.clients)
        ]
        faults = [threading.Thread(target=kill_a_worker, args=(gunicorn, START + args.duration * args.kill_at, events))]
        if private:
            at = START + args.duration * args.restart_at
            faults.append(threading.Thread(target=restart_postgres, args=(private, at, events)))
        for thread in threads + faults:
            thread.start()
        for thread in threads + faults:
            thread.join()
        elapsed = time.monotonic() - START
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)
        stored = count_rows(setup)
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.kill()
        cleanup()

    expected = {k: n * (BATCH if k == "metrics" else 1) for k, n in tally.stored.items()}
    print(
        f"{label}: gunicorn with {args.workers} workers, {args.clients} clients, {elapsed:.1f} s "
        f"(load {args.duration:g} s, then the writes in progress were finished)"
    )
    for event in events:
        print(f"  {event}")
    print(f"  requests {tally.requests:,}   retries {tally.retries:,}   refused (4xx) {len(tally.refused):,}")
    print("  errors   " + (", ".join(f"{what} {n:,}" for what, n in sorted(tally.errors.items())) or "none"))
    print(
        f"  {'':12} {'expected':>10} {'stored':>10} {'duplicates':>11} {'lost':>6} {'gave up':>8}   latency p50 / p95"
    )
    bad = bool(tally.refused)
    for kind in ("metrics", "ping", "deployment"):
        rows, doubled = stored[kind]
        lost = max(0, expected[kind] - (rows - doubled))
        gave_up = tally.gave_up[kind] * (BATCH if kind == "metrics" else 1)
        bad |= bool(lost or (doubled and kind != "ping"))
        name = "samples" if kind == "metrics" else f"{kind}s"
        times = sorted(tally.seconds[kind]) or [0.0]
        p50, p95 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.95))]
        print(
            f"  {name:12} {expected[kind]:>10,} {rows:>10,} {doubled:>11,} {lost:>6,} {gave_up:>8,}"
            f"   {p50 * 1000:,.0f} / {p95 * 1000:,.0f} ms"
        )
    writes = sum(tally.stored.values())
    print(
        f"  throughput {tally.requests / elapsed:,.0f} requests/s, {writes / elapsed:,.0f} writes/s, "
        f"{expected['metrics'] / elapsed:,.0f} samples/s"
    )
    for refusal in tally.refused[:5]:
        print(f"  refused: {refusal}")
    pings_again = stored["ping"][1]
    verdict = "nothing lost, no metric batch or deployment doubled"
    verdict += f" ({pings_again} ping(s) repeated: at least once)" if pings_again else ", no ping repeated"
    print("  result: " + ("FAILED (see above)" if bad else verdict))
    if bad:
        print(f"  gunicorn log: {log_path}")
    else:
        shutil.rmtree(log_path.parent, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
