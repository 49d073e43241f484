"""Behaviour analysis over 1,000,000 usage events / 50,000 sessions in SQLite: paths (with next
steps and recommendations), a 3-step funnel and 8-week retention, timed, with the peak memory of
the process -- streamed as the portal does it, and side by side the same analyses after loading
all rows into memory first.

    .venv/bin/python bench/behaviour.py                      # 1M events, 50k sessions (a temporary file)
    .venv/bin/python bench/behaviour.py --events 200000 --sessions 10000
    .venv/bin/python bench/behaviour.py --keep /tmp/b.sqlite3   # keep (or reuse) the database file

The events are generated with a fixed seed: sessions walk a Markov chain over 40 features (each has
three likely successors), 5 % are sent without a session id (grouped per user), 1 % of gaps are
40 minutes (the session splits), users start over eight weeks and come back. Rows go in with one
executemany into the migrated table (all its indexes). Each variant runs in its own child process,
so its peak RSS (getrusage) is its own; the figure after Django's start-up is printed too.

Goal (issue 12): paths + funnel + retention < 30 s and < 500 MB on SQLite.
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throwaway_db import throwaway_database  # noqa: E402 (after sys.path)

FEATURES = [f"feature.{i:02d}" for i in range(40)]
START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
WEEKS = 8
GOAL_SECONDS, GOAL_MB = 30, 500


def configure(keep: str | None) -> None:
    os.environ["METRICS_FLUSH_ENABLED"] = "false"
    os.environ["ANALYTICS_TRACKER_ENABLED"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DEBUG", "true")
    if keep:
        os.environ["DATABASE_URL"] = f"sqlite:///{keep}"
    elif not os.environ.get("BENCH_CHILD"):  # a child reads the database its parent built
        throwaway_database("bench_behaviour", None)


def generate(events: int, sessions: int, seed: int = 7):
    """(time text, session_id, user_id, name) rows, session by session."""
    rng = random.Random(seed)
    successors = {f: rng.sample(FEATURES, 3) for f in FEATURES}
    users = max(1, sessions // 4)
    span = WEEKS * 7 * 86400
    user_start = [rng.uniform(0, span * 0.9) for _ in range(users)]
    mean_length = events / sessions
    made = 0
    for s in range(sessions):
        length = events - made if s == sessions - 1 else max(1, round(rng.uniform(0.25, 1.75) * mean_length))
        length = min(length, events - made)
        if length <= 0:
            break
        user = rng.randrange(users)
        t = min(span - 3600, user_start[user] + rng.expovariate(1 / (10 * 86400)))
        session_id = "" if rng.random() < 0.05 else f"s{s:07d}"
        feature = rng.choice(FEATURES[:8])
        for _ in range(length):
            yield ((START + timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S.%f"), session_id, f"u{user}", feature)
            t += 2400 if rng.random() < 0.01 else rng.expovariate(1 / 15)
            feature = rng.choice(successors[feature]) if rng.random() < 0.85 else rng.choice(FEATURES)
        made += length


def build(events: int, sessions: int) -> int:
    from django.core.management import call_command
    from django.db import connection, transaction

    from analytics.models import UsageEvent
    from portal.models import Service

    call_command("migrate", "analytics", verbosity=0)
    if UsageEvent.objects.exists():
        print(f"reusing {UsageEvent.objects.count():,} events")
        return Service.objects.get(slug="bench").pk
    service = Service.objects.create(name="bench", slug="bench")
    table = UsageEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} (time, service_id, event_id, session_id, user_id, kind, name, success, error_type, "
        "metadata) VALUES (%s, %s, '', %s, %s, 'feature', %s, 1, '', '{}')"
    )
    began = time.perf_counter()
    batch: list[tuple] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for when, session_id, user_id, name in generate(events, sessions):
            batch.append((when, service.pk, session_id, user_id, name))
            if len(batch) == 50_000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
    print(f"built {events:,} events in {time.perf_counter() - began:.1f} s")
    return service.pk


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def analyse(variant: str) -> dict:
    """Run in a child: paths, funnel and retention over the whole range; times and peak RSS."""
    import django

    django.setup()
    from analytics.behaviour import compute
    from analytics.models import UsageEvent
    from portal.models import Service

    if variant == "loaded":  # the same analyses fed from lists holding every row first
        for name in ("session_rows", "actor_rows", "user_rows"):
            original = getattr(compute, name)
            setattr(compute, name, lambda _o=original, **kw: iter(list(_o(**kw))))
    service = Service.objects.get(slug="bench")
    UsageEvent.objects.filter(service=service).exists()  # connect before the baseline
    baseline = rss_mb()
    since, until = START, START + timedelta(weeks=WEEKS)
    spent, cpu = {}, {}

    def timed(name, func, **params):
        began, began_cpu = time.perf_counter(), time.process_time()
        found = func(service=service, since=since, until=until, params=params)
        spent[name], cpu[name] = time.perf_counter() - began, time.process_time() - began_cpu
        return found

    paths, events = timed("paths", compute.paths_compute, **compute.default_params("paths"))
    funnel_params = compute.default_params("funnel", steps=FEATURES[:3], window=3600)
    funnel, _ = timed("funnel", compute.funnel_compute, **funnel_params)
    retention, _ = timed("retention", compute.retention_compute, **compute.default_params("retention"))
    return {
        "variant": variant,
        "seconds": spent,
        "total": sum(spent.values()),
        "cpu": cpu,
        "peak_mb": rss_mb(),
        "baseline_mb": baseline,
        "events": events,
        "sessions": paths["summary"]["sessions"],
        "top_path": paths["paths"][0] if paths["paths"] else None,
        "funnel": [s["actors"] for s in funnel["steps"]],
        "cohort_users": retention["users"],
        "advice": [a["text"] for a in paths["advice"][:3]],
    }


def run_child(variant: str) -> dict:
    env = {**os.environ, "BENCH_CHILD": "1"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--keep", help="database file to keep (reused when it holds events)")
    parser.add_argument("--child", choices=["streamed", "loaded"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure(args.keep)
    if args.child:
        print(json.dumps(analyse(args.child)))
        return
    import django

    django.setup()
    try:
        report(args)
    finally:
        if not args.keep:  # the throwaway file (a few hundred MB for 1M events)
            shutil.rmtree(Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///")).parent, ignore_errors=True)


def report(args) -> None:
    build(args.events, args.sessions)
    from django.db import connections

    connections.close_all()
    results = {variant: run_child(variant) for variant in ("streamed", "loaded")}
    streamed, loaded = results["streamed"], results["loaded"]
    print(f"{streamed['events']:,} events, {streamed['sessions']:,} sessions after splitting on inactivity")
    print(f"top path {streamed['top_path']}; funnel {streamed['funnel']}; cohort users {streamed['cohort_users']:,}")
    for text in streamed["advice"]:
        print(f"  advice: {text}")
    for r in (streamed, loaded):
        parts = ", ".join(f"{k} {v:.1f} s (CPU {r['cpu'][k]:.1f} s)" for k, v in r["seconds"].items())
        print(
            f"{r['variant']:>8}: {r['total']:.1f} s, CPU {sum(r['cpu'].values()):.1f} s ({parts}); "
            f"peak RSS {r['peak_mb']:.0f} MB "
            f"({r['peak_mb'] - r['baseline_mb']:.0f} MB above the {r['baseline_mb']:.0f} MB after start-up)"
        )
    print(
        f"streamed vs loaded first: time x{loaded['total'] / streamed['total']:.2f}, "
        f"memory above start-up x{(loaded['peak_mb'] - loaded['baseline_mb']) / max(1, streamed['peak_mb'] - streamed['baseline_mb']):.1f}"  # noqa: E501
    )
    streamed_cpu = sum(streamed["cpu"].values())
    ok_time, ok_memory = streamed["total"] < GOAL_SECONDS, streamed["peak_mb"] < GOAL_MB
    print(
        f"goal < {GOAL_SECONDS} s: {'met' if ok_time else 'NOT met'} ({streamed['total']:.1f} s elapsed, "
        f"{streamed_cpu:.1f} s CPU, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs); "
        f"goal < {GOAL_MB} MB: {'met' if ok_memory else 'NOT met'} ({streamed['peak_mb']:.0f} MB peak RSS)"
    )


if __name__ == "__main__":
    main()
