"""A throwaway database for a benchmark, chosen before Django starts.

SQLite: a file in a new temporary folder. PostgreSQL: a new database on the given server, dropped
by the returned cleanup. Benchmarks never touch the portal's own database.
"""

import os
import tempfile
import uuid

import psycopg

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432"


def throwaway_database(prefix: str, postgres: str | None) -> tuple[str, callable]:
    """Set DATABASE_URL; `postgres` is a server URL (a database name in it is ignored) or None.
    Returns (label, cleanup)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DEBUG", "true")
    if not postgres:
        folder = tempfile.mkdtemp(prefix=f"{prefix}_")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        return "SQLite", lambda: None
    server = postgres.rstrip("/")
    if server.count("/") > 2:  # postgres://host/dbname -> postgres://host
        server = server.rsplit("/", 1)[0]
    admin = f"{server}/postgres"
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{server}/{name}"

    def cleanup():
        from django.db import connections  # Django is set up by now; close before dropping

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return "PostgreSQL", cleanup
