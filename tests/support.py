"""Helpers for tests that need real services or real subprocesses."""

import os
import socket
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(what: str, available: bool, reason: str) -> None:
    """Skip with a reason when a service is missing, except in CI where that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but {reason}")
    pytest.skip(f"{what} unavailable: {reason}")


def on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage_command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def manage(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        manage_command(*args),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def manage_process(*args: str, env: dict, stop_timeout: float = 30):
    """A long-running manage.py command; SIGTERM on exit. Yields the Popen (output merged)."""
    proc = subprocess.Popen(
        manage_command(*args), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def separate_database(tmp_path: Path):
    """Environment for a subprocess with its own migrated database (the test database of this
    process is invisible to others: in memory on SQLite, inside a transaction on PostgreSQL)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PORTAL_TASKS_SYNC")}
    env["DEBUG"] = "true"
    env["PORTAL_VAR_DIR"] = str(tmp_path / "var")  # its own secret key and first-start password file
    dropper = None
    if on_postgres():
        db = settings.DATABASES["default"]
        name = f"portal_sub_{uuid.uuid4().hex[:10]}"
        conninfo = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def dropper():
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'sub.sqlite3'}"
    try:
        result = manage("migrate", "--noinput", env=env)
        assert result.returncode == 0, result.stderr
        yield env
    finally:
        if dropper:
            dropper()
