"""Endpoints outside /monitoring/: /metrics, /health/, /health/ready and heartbeat pings.

Load balancers and schedulers call these without a session, so they answer plain JSON/text
and never redirect to a login page.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from monitoring.heartbeats import PING_BODY_CHARS, heartbeat_ping
from monitoring.models import CheckKind, HealthCheck, HealthStatus, PingKind
from monitoring.models.checks import MAX_INTERVAL_SECONDS
from monitoring.prometheus import exposition
from portal.keys import service_key_find
from portal.lib.bodies import body_prefix
from portal.middleware import own_body_limit
from portal.roles import VIEWER, has_role

STALE_AFTER_INTERVALS = 3
logger = logging.getLogger(__name__)


def _bearer_ok(request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    return scheme == "Bearer" and service_key_find(raw.strip()) is not None


@require_GET
@never_cache
def metrics(request):
    """Prometheus scrape: OpenMetrics when the Accept header asks for it, else the text format
    0.0.4. With METRICS_PROMETHEUS_REQUIRE_KEY, needs a service key or a viewer."""
    if settings.METRICS_PROMETHEUS_REQUIRE_KEY and not (has_role(request.user, VIEWER) or _bearer_ok(request)):
        response = HttpResponse("a service key is required: Authorization: Bearer pk_...\n", status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    body, content_type = exposition(now=timezone.now(), accept=request.headers.get("Accept", ""))
    response = HttpResponse(body, content_type=content_type)
    response["Vary"] = "Accept"
    return response


@require_safe  # load balancers probe with GET or HEAD
@never_cache
def health(request):
    """Liveness of the portal including its database: 200 when a round trip works, else 503."""
    start = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return JsonResponse(
            {"status": HealthStatus.UNHEALTHY, "database": {"ok": False, "error": type(exc).__name__}}, status=503
        )
    latency = round((time.perf_counter() - start) * 1000, 3)
    return JsonResponse({"status": "ok", "database": {"ok": True, "latency_ms": latency}})


def check_state(check: HealthCheck, now) -> str:
    """The check's status for readiness: 'pending' before its first run, 'stale' when its last
    result is older than a few intervals (the worker is not running it)."""
    if not check.last_status:
        return "pending"
    # Clamped: an out-of-range interval (written around validation) once made this overflow and
    # the whole endpoint answer 500; such a check reports itself unhealthy when it runs.
    interval = min(check.interval_seconds or 0, MAX_INTERVAL_SECONDS)
    horizon = timedelta(seconds=STALE_AFTER_INTERVALS * interval + 60)
    if check.last_checked_at is None or now - check.last_checked_at > horizon:
        return "stale"
    return check.last_status


@require_safe
@never_cache
def ready(request):
    """Aggregate of the enabled critical checks: 503 when any is unhealthy, stale or unreadable."""
    now = timezone.now()
    checks = HealthCheck.objects.filter(enabled=True, critical=True).select_related("service")
    items, failing, degraded = [], False, False
    for check in checks:
        try:
            state = check_state(check, now)
        except Exception:  # one odd row must not turn the whole answer into a 500
            logger.exception("/health/ready: check %s could not be read", check.pk)
            state = "error"
        failing |= state in (HealthStatus.UNHEALTHY, "stale", "error")
        degraded |= state == HealthStatus.DEGRADED
        items.append(
            {
                "name": check.name,
                "service": check.service.slug if check.service else None,
                "kind": check.kind,
                "status": state,
                "message": check.last_message,
                "latency_ms": check.last_latency_ms,
                "checked_at": check.last_checked_at.isoformat() if check.last_checked_at else None,
            }
        )
    status = HealthStatus.UNHEALTHY if failing else HealthStatus.DEGRADED if degraded else "ok"
    return JsonResponse({"status": status, "checks": items}, status=503 if failing else 200)


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@own_body_limit  # any body is recorded: its first PING_BODY_CHARS are kept
@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
@never_cache
def ping(request, uuid, kind=PingKind.SUCCESS):
    """A job reports in. The UUID is the secret (like a cron monitoring URL); no other auth."""
    check = HealthCheck.objects.filter(uuid=uuid, kind=CheckKind.HEARTBEAT).select_related("service").first()
    if check is None:
        return HttpResponse("not found\n", status=404, content_type="text/plain")
    body = ""
    if request.method == "POST":
        # Only a prefix is read (UTF-8 takes at most 4 bytes a character): `request.body` would
        # refuse bodies over 2.5 MB with 400, and the job's ping would be lost.
        body = body_prefix(request, limit=4 * PING_BODY_CHARS).decode(errors="replace")[:PING_BODY_CHARS]
    heartbeat_ping(
        check=check,
        kind=kind,
        remote_addr=_client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        body=body,
    )
    return HttpResponse("OK\n", content_type="text/plain")
