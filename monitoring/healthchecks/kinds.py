"""One class per health-check kind, behind one registry (`KINDS`).

Each kind validates its `config` at the edge (admin and API) and runs with a timeout it must
respect; `monitoring.healthchecks.runner` is the one wrapper that enforces the timeout again,
measures latency and records the outcome for every kind.
"""

import socket
import time
from dataclasses import dataclass

import psutil
from django.apps import apps
from django.db import connections
from django.utils import timezone

from monitoring.healthchecks.bounds import MAX_DEGRADED_MS
from monitoring.healthchecks.custom import CustomCheckError, custom_check_prepare
from monitoring.healthchecks.heartbeat import Beat, cron_valid, heartbeat_status
from monitoring.healthchecks.scrape import DEFAULT_MAX_INTERVALS, MAX_INTERVALS, ScrapeRecord, scrape_status
from monitoring.healthchecks.status import DEGRADED, HEALTHY, RANK, UNHEALTHY, worst

__all__ = ["DEGRADED", "HEALTHY", "KINDS", "UNHEALTHY", "Outcome", "worst"]
MAX_BODY = 1_000_000  # bytes of an HTTP answer searched for body_contains


@dataclass
class Outcome:
    status: str
    message: str = ""
    latency_ms: float | None = None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def _positive_number(config, key, errors, *, most: float):
    value = config.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= most:
        errors[key] = f"must be a positive number, at most {most:g}"


def _slow(latency_ms: float, config: dict) -> bool:
    limit = config.get("degraded_ms")
    return limit is not None and latency_ms > limit


class Kind:
    kind = ""
    # Inline kinds only read the database (no network to wait for): the runner calls them on its
    # own thread with `now`, and the sweep evaluates them at once instead of queueing a task.
    inline = False

    def validate(self, config: dict, check=None) -> dict[str, str]:
        """Errors by config key (empty when valid). `check` carries the other fields."""
        errors: dict[str, str] = {}
        _positive_number(config, "degraded_ms", errors, most=MAX_DEGRADED_MS)
        return errors

    def run(self, check, *, timeout: float) -> Outcome:
        raise NotImplementedError


class SystemKind(Kind):
    """Thresholds on this host: each of cpu_percent / memory_percent / disk_percent is
    [degraded_at, unhealthy_at]; disk_path picks the mount (default "/")."""

    kind = "system"
    FIGURES = ("cpu_percent", "memory_percent", "disk_percent")

    def validate(self, config, check=None):
        errors = {}
        for key in self.FIGURES:
            pair = config.get(key)
            if pair is None:
                continue
            ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int | float) for v in pair)
            if not ok or not 0 <= pair[0] <= pair[1] <= 100:
                errors[key] = "must be [degraded_at, unhealthy_at] with 0 <= degraded_at <= unhealthy_at <= 100"
        if not any(key in config for key in self.FIGURES):
            errors["config"] = f"set at least one of {', '.join(self.FIGURES)}"
        if "disk_path" in config and not isinstance(config["disk_path"], str):
            errors["disk_path"] = "must be a path"
        return errors

    def run(self, check, *, timeout):
        config = check.config
        figures = {
            "cpu_percent": lambda: psutil.cpu_percent(interval=min(0.2, timeout / 4)),
            "memory_percent": lambda: psutil.virtual_memory().percent,
            "disk_percent": lambda: psutil.disk_usage(config.get("disk_path", "/")).percent,
        }
        status, parts = HEALTHY, []
        for key in self.FIGURES:
            if key not in config:
                continue
            degraded_at, unhealthy_at = config[key]
            value = figures[key]()
            level = UNHEALTHY if value >= unhealthy_at else DEGRADED if value >= degraded_at else HEALTHY
            status = worst(status, level)
            parts.append(f"{key} {value:.1f}" + ("" if level == HEALTHY else f" ({level})"))
        return Outcome(status, ", ".join(parts))


class DatabaseKind(Kind):
    """A `SELECT 1` round trip on a configured database (`alias`, default "default")."""

    kind = "database"

    def validate(self, config, check=None):
        errors = super().validate(config)
        if config.get("alias", "default") not in connections:
            errors["alias"] = "is not a configured database"
        return errors

    def run(self, check, *, timeout):
        connection = connections[check.config.get("alias", "default")]
        start = time.perf_counter()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            latency = _ms(start)
        finally:
            connection.close()  # runs in a worker thread: never leave its connection open
        status = DEGRADED if _slow(latency, check.config) else HEALTHY
        return Outcome(status, f"{connection.vendor} answered in {latency:.1f} ms", latency)


class HttpKind(Kind):
    """config: url, method (GET), expected_status (200 or a list), body_contains, headers, degraded_ms,
    follow_redirects (false: a redirect is an answer to check), verify_tls (true)."""

    kind = "http"

    def validate(self, config, check=None):
        errors = super().validate(config)
        url = config.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            errors["url"] = "must be an http(s) URL"
        expected = config.get("expected_status", 200)
        codes = expected if isinstance(expected, list) else [expected]
        if not codes or not all(isinstance(c, int) and 100 <= c <= 599 for c in codes):
            errors["expected_status"] = "must be an HTTP status code or a list of them"
        if config.get("method", "GET") not in ("GET", "HEAD", "POST"):
            errors["method"] = "must be GET, HEAD or POST"
        if not isinstance(config.get("body_contains", ""), str):
            errors["body_contains"] = "must be a string"
        if not isinstance(config.get("headers", {}), dict):
            errors["headers"] = "must be an object"
        for flag in ("follow_redirects", "verify_tls"):
            if not isinstance(config.get(flag, True), bool):
                errors[flag] = "must be true or false"
        return errors

    def run(self, check, *, timeout):
        import httpx  # here, not at the top: short commands (the admin loads this module) never need it

        config = check.config
        expected = config.get("expected_status", 200)
        codes = expected if isinstance(expected, list) else [expected]
        needle = config.get("body_contains", "")
        start = time.perf_counter()
        try:
            with httpx.stream(
                config.get("method", "GET"),
                config["url"],
                headers=config.get("headers") or {},
                timeout=timeout,
                follow_redirects=config.get("follow_redirects", False),
                verify=config.get("verify_tls", True),
            ) as response:
                body = self._head_of_body(response) if needle and response.status_code in codes else b""
        except httpx.TimeoutException:
            return Outcome(UNHEALTHY, f"no answer within {timeout:g} s", _ms(start))
        except httpx.HTTPError as exc:
            return Outcome(UNHEALTHY, f"request failed: {exc}", _ms(start))
        latency = _ms(start)
        if response.status_code not in codes:
            return Outcome(UNHEALTHY, f"status {response.status_code}, expected {codes}", latency)
        if needle and needle not in body.decode(response.encoding or "utf-8", errors="replace"):
            where = "the body" if len(body) < MAX_BODY else f"the first {MAX_BODY} bytes of the body"
            return Outcome(UNHEALTHY, f"status {response.status_code} but {where} lacks {needle!r}", latency)
        status = DEGRADED if _slow(latency, config) else HEALTHY
        return Outcome(status, f"status {response.status_code} in {latency:.0f} ms", latency)

    @staticmethod
    def _head_of_body(response) -> bytes:
        # Read at most MAX_BODY: a huge or endless body must not fill the worker's memory (the
        # runner abandons a thread that overruns, it cannot stop it).
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= MAX_BODY:
                return body[:MAX_BODY]
        return body


class TcpKind(Kind):
    """config: host, port, degraded_ms. Healthy when a TCP connection opens within the timeout."""

    kind = "tcp"

    def validate(self, config, check=None):
        errors = super().validate(config)
        if not isinstance(config.get("host"), str) or not config.get("host"):
            errors["host"] = "is required"
        port = config.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            errors["port"] = "must be a port number (1-65535)"
        return errors

    def run(self, check, *, timeout):
        host, port = check.config["host"], check.config["port"]
        start = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=timeout):
                latency = _ms(start)
        except TimeoutError:
            return Outcome(UNHEALTHY, f"{host}:{port} did not answer within {timeout:g} s", _ms(start))
        except OSError as exc:
            return Outcome(UNHEALTHY, f"{host}:{port} refused or unreachable: {exc.strerror or exc}", _ms(start))
        status = DEGRADED if _slow(latency, check.config) else HEALTHY
        return Outcome(status, f"{host}:{port} connected in {latency:.1f} ms", latency)


def beat_of(check) -> Beat:
    return Beat(
        created_at=check.created_at,
        last_ping_at=check.last_ping_at,
        last_start_at=check.last_start_at,
        last_fail_at=check.last_fail_at,
        period_seconds=check.period_seconds,
        cron=check.cron,
        grace_seconds=check.grace_seconds,
    )


class HeartbeatKind(Kind):
    """Derived from pings to /ping/<uuid>; the schedule is the check's period_seconds or cron."""

    kind = "heartbeat"
    inline = True

    def validate(self, config, check=None):
        errors = {}
        if check is not None:
            period, cron = getattr(check, "period_seconds", None), getattr(check, "cron", "")
            if bool(period) == bool(cron):
                errors["period_seconds"] = "a heartbeat needs exactly one of period_seconds or cron"
            elif cron and not cron_valid(cron):
                errors["cron"] = "is not a valid cron expression"
        return errors

    def run(self, check, *, timeout, now=None):
        status, message = heartbeat_status(beat_of(check), now=now or timezone.now())
        return Outcome(status, message)


class CustomKind(Kind):
    """config: name (registered in HEALTH_CUSTOM_CHECKS) and params (checked against what the
    callable declares). The callable gets `check=` and the params and returns an Outcome, a
    (status, message) pair, a status string or a bool (True = healthy); raising means unhealthy."""

    kind = "custom"

    def validate(self, config, check=None):
        try:
            custom_check_prepare(config)
        except CustomCheckError as exc:
            return exc.errors
        return {}

    def run(self, check, *, timeout):
        try:
            func, params = custom_check_prepare(check.config)
        except CustomCheckError as exc:
            # Stored before the registry changed (or written around validation): never guess.
            return Outcome(UNHEALTHY, f"not run: {exc}")
        result = func(check=check, **params)
        if isinstance(result, Outcome):
            return result
        if isinstance(result, bool):
            return Outcome(HEALTHY if result else UNHEALTHY, "")
        if isinstance(result, str) and result in RANK:
            return Outcome(result, "")
        if isinstance(result, tuple) and len(result) == 2 and result[0] in RANK:
            return Outcome(result[0], str(result[1]))
        return Outcome(UNHEALTHY, f"the callable returned {result!r}, not a status")


class ScrapeKind(Kind):
    """A Prometheus scrape target's last scrape (monitoring.integrations): config `target` (its id),
    `max_intervals` (stale after this many scrape periods without a scrape, default 3, at most
    100) and `degraded_ms` (a slower scrape is degraded). Judged by `healthchecks.scrape`."""

    kind = "scrape"
    inline = True

    @staticmethod
    def _targets():
        # Through the app registry: this module is imported while the models load.
        return apps.get_model("integrations", "ScrapeTarget").objects

    def validate(self, config, check=None):
        errors = super().validate(config)
        intervals = config.get("max_intervals")
        if intervals is not None and (
            isinstance(intervals, bool) or not isinstance(intervals, int) or not 1 <= intervals <= MAX_INTERVALS
        ):
            errors["max_intervals"] = f"must be a whole number from 1 to {MAX_INTERVALS}"
        target_id = config.get("target")
        if isinstance(target_id, bool) or not isinstance(target_id, int) or not 0 < target_id < 2**63:
            errors["target"] = "must be the id of a scrape target"
            return errors
        target = self._targets().filter(pk=target_id).select_related("service").first()
        if target is None:
            errors["target"] = f"no scrape target has the id {target_id}"
        elif check is not None and getattr(check, "service_id", None) not in (None, target.service_id):
            errors["target"] = f"belongs to the service {target.service.slug!r}, not to this check's service"
        return errors

    def run(self, check, *, timeout, now=None):
        target = self._targets().filter(pk=check.config.get("target")).first()
        if target is None:
            return Outcome(UNHEALTHY, f"scrape target {check.config.get('target')!r} no longer exists")
        record = ScrapeRecord(
            url=target.url,
            enabled=target.enabled,
            interval_seconds=target.interval_seconds,
            created_at=target.created_at,
            last_scrape_at=target.last_scrape_at,
            last_ok=target.last_ok,
            last_error=target.last_error,
            last_duration_ms=target.last_duration_ms,
            last_samples=target.last_samples,
        )
        status, message = scrape_status(
            record,
            now=now or timezone.now(),
            max_intervals=check.config.get("max_intervals") or DEFAULT_MAX_INTERVALS,
            degraded_ms=check.config.get("degraded_ms"),
        )
        # The scrape's own duration, so the check's latency chart shows how the exporter answers.
        return Outcome(status, message, None if target.last_duration_ms is None else float(target.last_duration_ms))


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (SystemKind(), DatabaseKind(), HttpKind(), TcpKind(), HeartbeatKind(), CustomKind(), ScrapeKind())
}
