"""Writing the audit trail: one helper so every event row has the same shape."""

from datetime import datetime

from monitoring.alerting.models import Alert, AlertEvent


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
    return AlertEvent.objects.create(
        alert=alert,
        kind=kind,
        created_at=now,
        actor=actor if getattr(actor, "pk", None) else None,
        value=value,
        message=message,
        details=details or {},
    )
