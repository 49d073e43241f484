"""Turn environment values into Django settings dictionaries.

Kept free of Django settings access so it can be unit-tested with plain strings.
"""

import math
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

SUPPORTED_DB_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")
SQLITE_BUSY_TIMEOUT_S = 20


def sqlite_options() -> dict:
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN, so two
    # writers queue on the busy timeout instead of failing with "database is locked" mid-way
    # (django-q2 workers saving results otherwise lose them under load).
    return {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": SQLITE_BUSY_TIMEOUT_S,
    }


# Connections are kept between requests (per web thread) on both databases. Without it SQLite
# opened the file, ran the PRAGMAs and closed it (checkpointing the WAL) on every request: most
# of the CPU of a small request such as a Sentry envelope (bench/error_ingest.py).
CONN_MAX_AGE_SECONDS = 60


def database_config(url: str, var_dir: Path) -> dict:
    """DATABASE_URL -> DATABASES["default"]; empty means SQLite in var_dir."""
    if not url:
        var_dir.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(var_dir / "portal.sqlite3"),
            "OPTIONS": sqlite_options(),
            "CONN_MAX_AGE": CONN_MAX_AGE_SECONDS,
        }
    scheme = url.split(":", 1)[0] if ":" in url else ""
    if scheme not in SUPPORTED_DB_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL: unsupported scheme {scheme!r}; use sqlite:///path or postgres://user@host/db"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for malformed URLs
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from exc
    if not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL has no database name")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {**sqlite_options(), **config.get("OPTIONS", {})}
        config.setdefault("CONN_MAX_AGE", CONN_MAX_AGE_SECONDS)
    else:
        config.setdefault("CONN_MAX_AGE", CONN_MAX_AGE_SECONDS)
        config["CONN_HEALTH_CHECKS"] = True
    return config


def _raw(name: str, environ: Mapping[str, str] | None) -> str:
    return (os.environ if environ is None else environ).get(name, "").strip()


def env_int(name: str, default: int, *, min: int, max: int, environ: Mapping[str, str] | None = None) -> int:
    """A whole number within [min, max]; unset or empty means `default`. Anything else stops the
    portal with the variable and the allowed range named: a retention of -1 days would otherwise
    let the prune job delete every row."""
    raw = _raw(name, environ)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not min <= value <= max:
        got = raw if value is None else value
        raise ImproperlyConfigured(f"{name} must be a whole number from {min:,} to {max:,}, got {got!r}")
    return value


def env_float(name: str, default: float, *, min: float, max: float, environ: Mapping[str, str] | None = None) -> float:
    """A finite number within [min, max] (durations in seconds, minutes ...), like `env_int`."""
    raw = _raw(name, environ)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = None
    # NaN compares false with both bounds, so it is refused by name.
    if value is None or not math.isfinite(value) or not min <= value <= max:
        raise ImproperlyConfigured(f"{name} must be a number from {min:,} to {max:,}, got {raw!r}")
    return value


def queue_config(*, redis_url: str, workers: int, sync: bool) -> dict:
    """django-q2 settings: the ORM broker by default, Redis when REDIS_URL is set."""
    config = {
        "name": "portal",
        "workers": workers,
        # Default time limit of a task; long jobs set their own (a code scan: CODEHEALTH_SCAN_TIMEOUT).
        "timeout": 300,
        # The ORM broker hands a task to another worker when it is not done after `retry` seconds,
        # so retry must exceed the longest per-task limit (30 min scans), or long tasks run twice.
        "retry": 1900,
        "max_attempts": 3,
        "save_limit": 1000,
        "catch_up": False,
        "label": "Task queue",
        "sync": sync,
    }
    if redis_url:
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
        config["redis"] = redis_url
    else:
        config["orm"] = "default"
        config["poll"] = 1
    return config


def development_secret_key(var_dir: Path) -> str:
    """A per-install random key for DEBUG mode, created on first use."""
    path = var_dir / "dev-secret-key"
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when several processes start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    for _ in range(50):  # another process may be between creating and writing the file
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise ImproperlyConfigured(f"{path} is empty; delete it or set SECRET_KEY")


DEFAULT_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]


def served_hosts(served_url: str) -> list[str]:
    """Default ALLOWED_HOSTS: loopback, plus the host runportal serves on (e.g. `0.0.0.0:9000`
    is served under this machine's name, which links then use)."""
    host = urlsplit(served_url).hostname if served_url else None
    if host and host not in DEFAULT_HOSTS and f"[{host}]" not in DEFAULT_HOSTS:
        return [*DEFAULT_HOSTS, f"[{host}]" if ":" in host else host]
    return list(DEFAULT_HOSTS)
