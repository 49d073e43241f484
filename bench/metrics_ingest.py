"""Samples per second into the raw sample table, side by side in one run:

  API  POST /api/v1/metrics/ with a service key, batches of 1,000 (Django test client; the full
       request path: auth, JSON parsing, validation, idempotency key, executemany)
  (a)  Django bulk_create of MetricSample instances, same rows, batches of 1,000
  (b)  raw executemany INSERT into the same table with the same indexes (the physical limit)

    .venv/bin/python bench/metrics_ingest.py                  # SQLite (a temporary file)
    .venv/bin/python bench/metrics_ingest.py --postgres       # PostgreSQL at 127.0.0.1 (temp database)
    .venv/bin/python bench/metrics_ingest.py --batches 100    # more data

Goal (issue 3): API >= 25 % of (b), several times faster than (a).
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

from throwaway_db import DEFAULT_POSTGRES, throwaway_database  # noqa: E402 (after sys.path)


def configure(postgres: bool) -> tuple[str, callable]:
    """Point Django at a throwaway database before setup; returns (label, cleanup)."""
    os.environ["PORTAL_SERVICE_WRITE_RATE"] = "1000000/min"  # measure ingest, not the throttle
    os.environ["METRICS_FLUSH_ENABLED"] = "false"
    return throwaway_database("bench_metrics", DEFAULT_POSTGRES if postgres else None)


def create_tables() -> None:
    """Migrate monitoring and what it depends on (portal, auth): the real tables and indexes."""
    from django.core.management import call_command

    call_command("migrate", "monitoring", verbosity=0)


def batch_items(batch: int, start: datetime) -> list[dict]:
    return [
        {
            "name": "http_request_duration_seconds",
            "value": (i % 997) / 1000,
            "labels": {"route": f"/r{i % 20}", "method": "GET"},
            "time": (start + timedelta(milliseconds=batch * BATCH + i)).isoformat(),
            "type": "histogram",
        }
        for i in range(BATCH)
    ]


def api_batch(client, body: str, key: str) -> None:
    response = client.post("/api/v1/metrics/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content[:300]


def rows_of(service_id, items):
    from monitoring.labels import labels_canonical, labels_hash

    rows = []
    for item in items:
        canonical = labels_canonical(item["labels"])
        moment = datetime.fromisoformat(item["time"])
        rows.append((service_id, item["name"], canonical, labels_hash(canonical), item["value"], moment))
    return rows


def bulk_create_batch(rows) -> None:
    from monitoring.models import MetricSample

    MetricSample.objects.bulk_create(
        [
            MetricSample(service_id=s, name=n, labels=json.loads(c), labels_hash=h, value=v, time=t)
            for s, n, c, h, v, t in rows
        ]
    )


def executemany_batch(sql, params) -> None:
    """The driver's own executemany. On PostgreSQL Django's cursor is psycopg's ClientCursor
    (client-side binding, several times slower here), so use a server-binding psycopg cursor."""
    from django.db import connection, transaction

    with transaction.atomic():
        if connection.vendor == "postgresql":
            import psycopg

            with psycopg.Cursor(connection.connection) as cursor:
                cursor.executemany(sql, params)
        else:
            with connection.cursor() as cursor:
                cursor.executemany(sql, params)


def copy_batch(sql, rows) -> None:
    """PostgreSQL only: COPY, the path the ingest API uses there."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def measure(client, service_id, batches: int, start: datetime) -> dict[str, float]:
    """Interleave the methods batch by batch into the same table, so a noisy neighbour on the
    machine slows all of them alike and the indexes grow alike."""
    from django.db import connection

    from monitoring.ingest import _copy_sql, _insert_sql

    adapt = connection.ops.adapt_datetimefield_value
    spent: dict[str, float] = {"API (test client)": 0.0, "(a) bulk_create": 0.0, "(b) executemany": 0.0}
    if connection.vendor == "postgresql":
        spent["(c) COPY"] = 0.0
    insert, copy_sql = _insert_sql(), _copy_sql()
    for b in range(batches):
        items = batch_items(b, start)
        body = json.dumps({"samples": items})
        rows = rows_of(service_id, items)
        params = [(s, n, c, h, v, adapt(t)) for s, n, c, h, v, t in rows]  # prepared outside the timing
        for name in spent:
            began = time.perf_counter()
            if name.startswith("API"):
                api_batch(client, body, f"run-{b}")
            elif name.startswith("(a)"):
                bulk_create_batch(rows)
            elif name.startswith("(b)"):
                executemany_batch(insert, params)
            else:
                copy_batch(copy_sql, rows)
            spent[name] += time.perf_counter() - began
    return {name: batches * BATCH / seconds for name, seconds in spent.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="use a temporary PostgreSQL database")
    parser.add_argument("--batches", type=int, default=40, help="batches of 1,000 samples per method")
    args = parser.parse_args()
    label, cleanup = configure(args.postgres)
    import django

    django.setup()
    from django.db import connection
    from rest_framework.test import APIClient

    from monitoring.models import MetricSample
    from portal.keys import service_key_issue
    from portal.models import Service

    try:
        create_tables()
        service = Service.objects.create(name="bench", slug="bench")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {service_key_issue(service=service).raw}")
        now = datetime.now(tz=UTC) - timedelta(hours=1)
        api_batch(client, json.dumps({"samples": batch_items(0, now)}), "warmup")  # metric registration, caches
        MetricSample.objects.all().delete()
        results = measure(client, service.pk, args.batches, now)
        assert MetricSample.objects.count() == args.batches * BATCH * len(results)
        print(f"{label} ({connection.vendor}), {args.batches} batches of {BATCH} samples each")
        for name, rate in results.items():
            print(f"  {name:22} {rate:>10,.0f} samples/s")
        api, bulk, raw = list(results.values())[:3]
        print(f"  API / (b) executemany = {api / raw:.0%}   (goal >= 25 %)")
        print(f"  API / (a) bulk_create = {api / bulk:.1f}x")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
