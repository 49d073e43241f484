import os
import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.lib.envparse import database_config, development_secret_key, env_float, env_int, queue_config
from tests.support import ROOT, manage


def test_empty_database_url_means_sqlite_with_wal_and_immediate_transactions(tmp_path):
    config = database_config("", tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "portal.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert "synchronous=NORMAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] >= 5
    assert config["CONN_MAX_AGE"] > 0  # not a new connection (and WAL checkpoint) per request


def test_a_sqlite_url_keeps_connections_too(tmp_path):
    config = database_config(f"sqlite:///{tmp_path}/x.sqlite3", tmp_path)
    assert config["CONN_MAX_AGE"] > 0
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_postgres_url_is_parsed_with_health_checks(tmp_path):
    config = database_config("postgres://alice:pw@db.internal:5433/portal", tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == ("db.internal", 5433, "portal", "alice")
    assert config["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://root@localhost/portal", "unsupported scheme 'mysql'"),
        ("not a url", "unsupported scheme"),
        ("postgres://localhost:notaport/portal", "malformed"),
        ("postgres://localhost:5432/", "no database name"),
    ],
)
def test_bad_database_url_is_a_clear_error(tmp_path, url, message):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL") as info:
        database_config(url, tmp_path)
    assert message in str(info.value)


def test_queue_uses_orm_broker_without_redis():
    config = queue_config(redis_url="", workers=2, sync=False)
    assert config["orm"] == "default" and "redis" not in config
    assert config["retry"] > config["timeout"]


def test_queue_uses_redis_broker_when_redis_url_is_set():
    config = queue_config(redis_url="redis://127.0.0.1:6379/3", workers=4, sync=False)
    assert config["redis"] == "redis://127.0.0.1:6379/3" and "orm" not in config
    assert config["workers"] == 4


@pytest.mark.parametrize("url", ["http://redis:6379", "127.0.0.1:6379"])
def test_bad_redis_url_is_refused(url):
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        queue_config(redis_url=url, workers=1, sync=False)


def test_development_secret_key_is_random_and_stable(tmp_path):
    first = development_secret_key(tmp_path / "a")
    assert first == development_secret_key(tmp_path / "a")
    assert first != development_secret_key(tmp_path / "b")
    assert len(first) >= 50


def _env(**values) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG")}
    env.update(values)
    return env


@pytest.mark.slow
def test_bad_database_url_stops_manage_py_with_the_variable_named():
    result = manage("check", env=_env(DATABASE_URL="mysql://root@localhost/x"))
    assert result.returncode != 0
    assert "DATABASE_URL: unsupported scheme 'mysql'" in result.stderr


@pytest.mark.slow
def test_it_refuses_to_start_without_secret_key_when_debug_is_off():
    result = manage("check", env=_env(DEBUG="false"))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


@pytest.mark.slow
def test_misspelt_boolean_is_an_error_not_false():
    result = manage("check", env=_env(DEBUG="ture"))
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_values():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=_env(
            DEBUG="false",
            SECRET_KEY="x" * 30 + "-production-only-" + "y" * 30,
            DATABASE_URL="postgres://portal@127.0.0.1:5432/portal",
            REDIS_URL="redis://127.0.0.1:6379/0",
            ALLOWED_HOSTS="portal.example.com",
            PORTAL_BASE_URL="https://portal.example.com",
        ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# ---- numbers from the environment: one helper, bounded, naming the variable


def test_env_int_reads_the_value_and_falls_back_to_the_default():
    assert env_int("N", 3, min=1, max=10, environ={"N": " 7 "}) == 7
    assert env_int("N", 3, min=1, max=10, environ={}) == 3
    assert env_int("N", 3, min=1, max=10, environ={"N": ""}) == 3


@pytest.mark.parametrize(
    "raw, problem",
    [("abc", "got 'abc'"), ("0", "got 0"), ("-5", "got -5"), ("11", "got 11"), ("2.5", "got '2.5'")],
)
def test_env_int_refuses_values_that_are_not_whole_numbers_in_range(raw, problem):
    with pytest.raises(ImproperlyConfigured) as info:
        env_int("PORTAL_WORKERS", 2, min=1, max=10, environ={"PORTAL_WORKERS": raw})
    assert str(info.value).startswith("PORTAL_WORKERS must be a whole number from 1 to 10")
    assert problem in str(info.value)


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "0", "61", "ten"])
def test_env_float_refuses_non_finite_and_out_of_range_values(raw):
    with pytest.raises(ImproperlyConfigured, match=r"^ALERTING_HTTP_TIMEOUT_SECONDS must be a number from 0\.5 to 60"):
        env_float(
            "ALERTING_HTTP_TIMEOUT_SECONDS", 10.0, min=0.5, max=60, environ={"ALERTING_HTTP_TIMEOUT_SECONDS": raw}
        )


def test_env_float_accepts_the_bounds_themselves():
    assert env_float("T", 1.0, min=0.5, max=60, environ={"T": "0.5"}) == 0.5
    assert env_float("T", 1.0, min=0.5, max=60, environ={"T": "60"}) == 60.0


def test_every_number_in_settings_goes_through_the_bounded_helpers():
    source = (ROOT / "portal" / "settings.py").read_text()
    unbounded = re.findall(r"env\.(?:int|float)\(\s*\"(\w+)\"", source)
    assert unbounded == []
    bounded = set(re.findall(r"env_(?:int|float)\(\s*\"(\w+)\"", source))
    assert {
        "PORTAL_WORKERS",
        "METRICS_HOUR_RETENTION_DAYS",
        "AXES_COOLOFF_MINUTES",
        "HEALTH_RESULT_RETENTION_DAYS",
    } <= bounded


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("PORTAL_WORKERS", "abc", "PORTAL_WORKERS must be a whole number from 1 to 64, got 'abc'"),
        ("PORTAL_WORKERS", "0", "PORTAL_WORKERS must be a whole number from 1 to 64, got 0"),
        ("PORTAL_WEB_WORKERS", "65", "PORTAL_WEB_WORKERS must be a whole number from 1 to 64, got 65"),
        ("METRICS_HOUR_RETENTION_DAYS", "-1", "METRICS_HOUR_RETENTION_DAYS must be a whole number from 1 to"),
        ("METRICS_INGEST_MAX_BODY_BYTES", "0", "METRICS_INGEST_MAX_BODY_BYTES must be a whole number from"),
        ("AXES_FAILURE_LIMIT", "-3", "AXES_FAILURE_LIMIT must be a whole number from 1 to"),
        ("AXES_COOLOFF_MINUTES", "nan", "AXES_COOLOFF_MINUTES must be a number from"),
        ("ALERTING_DELIVERY_MAX_ATTEMPTS", "1000", "ALERTING_DELIVERY_MAX_ATTEMPTS must be a whole number from 1 to"),
        ("ALERTING_HTTP_TIMEOUT_SECONDS", "inf", "ALERTING_HTTP_TIMEOUT_SECONDS must be a number from"),
        ("HEALTH_RESULT_RETENTION_DAYS", "0", "HEALTH_RESULT_RETENTION_DAYS must be a whole number from 1 to"),
        ("CODEHEALTH_WORKERS", "many", "CODEHEALTH_WORKERS must be a whole number from 1 to"),
        ("METRICS_FLUSH_INTERVAL_SECONDS", "-1", "METRICS_FLUSH_INTERVAL_SECONDS must be a number from"),
    ],
)
def test_bad_number_stops_manage_py_with_the_variable_and_range_named(name, raw, message):
    result = manage("check", env=_env(**{name: raw}))
    assert result.returncode != 0
    assert message in result.stderr
