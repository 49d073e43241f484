"""Writing the audit trail: one helper so every event row has the same shape."""

import logging
from datetime import datetime, timedelta

from django.db import transaction

from monitoring.alerting.models import Alert, AlertEvent, EventKind

log = logging.getLogger(__name__)
# An alert that failed in a sweep is tried again this much later, not every minute.
SWEEP_RETRY = timedelta(minutes=5)


def event_record(
    *,
    alert: Alert,
    kind: str,
    now: datetime,
    actor=None,
    value: float | None = None,
    message: str = "",
    details: dict | None = None,
) -> AlertEvent:
    event = event_build(alert=alert, kind=kind, now=now, actor=actor, value=value, message=message, details=details)
    event.save(force_insert=True)
    return event


def event_build(
    *,
    alert: Alert,
    kind: str,
    now: datetime,
    actor=None,
    value: float | None = None,
    message: str = "",
    details: dict | None = None,
) -> AlertEvent:
    """An unsaved event row, for writers that insert many at once (`AlertEvent.objects.bulk_create`)."""
    return AlertEvent(
        alert=alert,
        kind=kind,
        created_at=now,
        actor=actor if getattr(actor, "pk", None) else None,
        value=value,
        message=message,
        details=details or {},
    )


def sweep_failure_record(*, alert_id: int, sweep: str, due_field: str, error: Exception, now: datetime) -> None:
    """One alert broke a sweep: log it with its id, push its due column SWEEP_RETRY ahead (the
    other alerts go on; it is retried, not dropped) and say so once in its audit trail, not at
    every retry. Never raises: the sweep carries on with the next alert."""
    log.error("%s sweep: alert %s failed", sweep, alert_id, exc_info=error)
    message = f"{sweep} failed: {type(error).__name__}: {error}"[:2000]
    try:
        with transaction.atomic():
            Alert.objects.filter(pk=alert_id, **{f"{due_field}__lte": now}).update(**{due_field: now + SWEEP_RETRY})
            last = AlertEvent.objects.filter(alert_id=alert_id).order_by("-created_at", "-id").first()
            if last is None or (last.kind, last.message) != (EventKind.NOTIFY_FAILED, message):
                AlertEvent.objects.create(
                    alert_id=alert_id,
                    kind=EventKind.NOTIFY_FAILED,
                    created_at=now,
                    message=message,
                    details={"sweep": sweep, "retry_at": (now + SWEEP_RETRY).isoformat()},
                )
    except Exception:
        log.exception("%s sweep: could not record the failure of alert %s", sweep, alert_id)
