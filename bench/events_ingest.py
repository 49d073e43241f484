"""Usage events per second into the event table, side by side in one run:

  API  POST /api/v1/events/ with a service key, batches of 1,000 (Django test client calling the
       real view: auth, throttle, body read, JSON parsing, validation, Idempotency-Key, event_id
       check, COPY or executemany; no HTTP socket)
  (a)  Django bulk_create of UsageEvent instances, same rows, batches of 1,000
  (b)  raw executemany INSERT into the same table with the same indexes (the physical limit)
  (c)  PostgreSQL only: COPY of the same rows (the path the API takes there)

Every event carries an event_id, a session and a user, so all four indexes and the unique
(service, event_id) constraint are maintained by each method alike.

    .venv/bin/python bench/events_ingest.py                  # SQLite (a temporary file)
    .venv/bin/python bench/events_ingest.py --postgres       # PostgreSQL at 127.0.0.1 (temp database)
    .venv/bin/python bench/events_ingest.py --batches 50     # more data

Goal (issue 12): API >= 25 % of (b).
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 1000
FEATURES = [f"feature.{i}" for i in range(40)]

from throwaway_db import DEFAULT_POSTGRES, throwaway_database  # noqa: E402 (after sys.path)


def configure(postgres: bool) -> tuple[str, callable]:
    os.environ["PORTAL_SERVICE_WRITE_RATE"] = "1000000/min"  # measure ingest, not the throttle
    os.environ["METRICS_FLUSH_ENABLED"] = "false"
    os.environ["ANALYTICS_TRACKER_ENABLED"] = "false"
    return throwaway_database("bench_events", DEFAULT_POSTGRES if postgres else None)


def batch_items(method: str, batch: int, start: datetime) -> list[dict]:
    return [
        {
            "event_id": f"{method}-{batch}-{i}",
            "time": (start + timedelta(milliseconds=batch * BATCH + i)).isoformat(),
            "session_id": f"s{(batch * BATCH + i) // 20}",
            "user_id": f"u{i % 300}",
            "kind": "feature",
            "name": FEATURES[i % len(FEATURES)],
            "duration_ms": float(i % 250),
            "success": i % 17 != 0,
            "error_type": "" if i % 17 else "TimeoutError",
            "metadata": {"plan": "pro", "step": i % 5},
        }
        for i in range(BATCH)
    ]


def rows_of(service_id: int, items: list[dict]) -> list[tuple]:
    return [
        (
            datetime.fromisoformat(e["time"]),
            service_id,
            e["event_id"],
            e["session_id"],
            e["user_id"],
            e["kind"],
            e["name"],
            e["duration_ms"],
            e["success"],
            e["error_type"],
            None,
            None,
            json.dumps(e["metadata"], separators=(",", ":")),
        )
        for e in items
    ]


def api_batch(client, body: str, key: str) -> None:
    response = client.post("/api/v1/events/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content[:300]


def bulk_create_batch(service_id: int, items: list[dict]) -> None:
    from analytics.models import UsageEvent

    UsageEvent.objects.bulk_create(
        [
            UsageEvent(
                time=datetime.fromisoformat(e["time"]),
                service_id=service_id,
                event_id=e["event_id"],
                session_id=e["session_id"],
                user_id=e["user_id"],
                kind=e["kind"],
                name=e["name"],
                duration_ms=e["duration_ms"],
                success=e["success"],
                error_type=e["error_type"],
                metadata=e["metadata"],
            )
            for e in items
        ]
    )


def executemany_batch(sql: str, params: list[tuple]) -> None:
    """The driver's own executemany (on PostgreSQL a server-binding psycopg cursor: Django's
    ClientCursor binds on the client, several times slower)."""
    from django.db import connection, transaction

    with transaction.atomic():
        if connection.vendor == "postgresql":
            import psycopg

            with psycopg.Cursor(connection.connection) as cursor:
                cursor.executemany(sql, params)
        else:
            with connection.cursor() as cursor:
                cursor.executemany(sql, params)


def copy_batch(rows: list[tuple]) -> None:
    from django.db import transaction

    from analytics.store import WRITER

    with transaction.atomic():
        WRITER.write(rows)


def measure(client, service_id: int, batches: int, start: datetime) -> dict[str, float]:
    """Interleave the methods batch by batch into the same table, so a noisy neighbour slows all
    of them alike and the indexes grow alike."""
    from django.db import connection

    from analytics.store import WRITER

    adapt = connection.ops.adapt_datetimefield_value
    spent = {"API (test client)": 0.0, "(a) bulk_create": 0.0, "(b) executemany": 0.0}
    if connection.vendor == "postgresql":
        spent["(c) COPY"] = 0.0
    insert = WRITER.insert_sql(connection)
    for b in range(batches):
        for name in spent:
            items = batch_items(name[:4], b, start)
            body = json.dumps({"events": items})
            rows = rows_of(service_id, items)
            params = [(adapt(r[0]), *r[1:]) for r in rows]  # prepared outside the timing
            began = time.perf_counter()
            if name.startswith("API"):
                api_batch(client, body, f"run-{b}")
            elif name.startswith("(a)"):
                bulk_create_batch(service_id, items)
            elif name.startswith("(b)"):
                executemany_batch(insert, params)
            else:
                copy_batch(rows)
            spent[name] += time.perf_counter() - began
    return {name: batches * BATCH / seconds for name, seconds in spent.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="use a temporary PostgreSQL database")
    parser.add_argument("--batches", type=int, default=30, help="batches of 1,000 events per method")
    args = parser.parse_args()
    label, cleanup = configure(args.postgres)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from analytics.models import UsageEvent
    from portal.keys import service_key_issue
    from portal.models import Service

    try:
        call_command("migrate", "analytics", verbosity=0)
        service = Service.objects.create(name="bench", slug="bench")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {service_key_issue(service=service).raw}")
        now = datetime.now(tz=UTC) - timedelta(hours=1)
        api_batch(client, json.dumps({"events": batch_items("warm", 0, now)}), "warmup")
        UsageEvent.objects.all().delete()
        results = measure(client, service.pk, args.batches, now)
        assert UsageEvent.objects.count() == args.batches * BATCH * len(results)
        print(f"{label} ({connection.vendor}), {args.batches} batches of {BATCH} events each")
        for name, rate in results.items():
            print(f"  {name:22} {rate:>10,.0f} events/s")
        api, bulk, raw = list(results.values())[:3]
        print(f"  API / (b) executemany = {api / raw:.0%}   (goal >= 25 %)")
        print(f"  API / (a) bulk_create = {api / bulk:.1f}x")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
