"""Recording heartbeat pings (`/ping/<uuid>`, `/start`, `/fail`)."""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from monitoring.healthchecks.runner import health_check_run
from monitoring.models import HealthCheck, HeartbeatPing, PingKind

logger = logging.getLogger(__name__)
PING_FIELD = {PingKind.SUCCESS: "last_ping_at", PingKind.START: "last_start_at", PingKind.FAIL: "last_fail_at"}
# Kept of a POSTed body, like Healthchecks: a job's message or the start of its output. A longer
# body is still a ping; only its first characters are read and stored.
PING_BODY_CHARS = 1000


def heartbeat_ping(
    *, check: HealthCheck, kind: str, now: datetime | None = None, remote_addr=None, user_agent="", body=""
) -> HeartbeatPing:
    """Record a ping and re-evaluate the check at once, so a failure shows without waiting."""
    now = now or timezone.now()
    with transaction.atomic():
        ping = HeartbeatPing.objects.create(
            health_check=check,
            kind=kind,
            created_at=now,
            remote_addr=remote_addr,
            user_agent=user_agent[:200],
            body=body[:PING_BODY_CHARS],
        )
        HealthCheck.objects.filter(pk=check.pk).update(**{PING_FIELD[kind]: now})
        setattr(check, PING_FIELD[kind], now)
    try:
        health_check_run(check=check, now=now)
    except Exception:
        # The ping is stored: answering 500 now would make the job retry and ping twice.
        # The sweep evaluates the check again within a minute.
        logger.exception("heartbeat ping of check %s stored but not evaluated", check.pk)
    return ping
