"""Creating and ending silences; open alerts they cover are held at once."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from monitoring.alerting.lifecycle import TransitionNotAllowed, alert_suppress
from monitoring.alerting.models import Alert, AlertRule, Silence
from monitoring.alerting.suppression import Hold, holds_recheck

SILENCE_CHOICES = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}


def silence_create(
    *,
    reason: str,
    ends_at: datetime,
    author=None,
    rule: AlertRule | None = None,
    matchers: list | None = None,
    starts_at: datetime | None = None,
    now: datetime | None = None,
) -> Silence:
    now = now or timezone.now()
    silence = Silence(
        rule=rule,
        matchers=matchers or [],
        starts_at=starts_at or now,
        ends_at=ends_at,
        author=author if getattr(author, "pk", None) else None,
        reason=reason,
        created_at=now,
    )
    silence.full_clean()
    with transaction.atomic():
        silence.save()
        silence_apply(silence=silence, now=now)
    return silence


def silence_apply(*, silence: Silence, now: datetime) -> int:
    """Hold the open alerts an active silence covers; returns how many."""
    if not silence.is_active(now):
        return 0
    held = 0
    hold = Hold(
        silence.ends_at, f"silenced: {silence.reason}", {"silence": silence.pk, "until": silence.ends_at.isoformat()}
    )
    for alert in Alert.objects.open().select_related("rule"):
        if silence.covers(alert):
            try:
                alert_suppress(alert=alert, hold=hold, now=now)
                held += 1
            except TransitionNotAllowed:
                continue  # resolved meanwhile
    return held


def silence_for_alert(
    *, alert: Alert, duration: timedelta, author, reason: str = "", now: datetime | None = None
) -> Silence:
    """ "Silence for 1h" on the alert page: exactly this rule and label set."""
    now = now or timezone.now()
    matchers = [{"label": k, "op": "=", "value": str(v)} for k, v in sorted((alert.labels or {}).items())]
    return silence_create(
        reason=reason or f"silenced from alert #{alert.pk}",
        ends_at=now + duration,
        author=author,
        rule=alert.rule,
        matchers=matchers,
        now=now,
    )


def silence_expire(*, silence: Silence, now: datetime | None = None) -> bool:
    """End a silence now. Alerts it held are re-checked by the next suppression sweep."""
    now = now or timezone.now()
    with transaction.atomic():
        ended = Silence.objects.filter(pk=silence.pk, ends_at__gt=now).update(ends_at=max(now, silence.starts_at))
        if ended:
            holds_recheck(now=now)
    return bool(ended)


def silence_changed(*, silence: Silence, now: datetime | None = None) -> int:
    """After an edit: a shorter or narrower silence may hold less (re-checked by the next sweep),
    a longer or wider one holds the alerts it now covers at once."""
    now = now or timezone.now()
    with transaction.atomic():
        holds_recheck(now=now)
        return silence_apply(silence=silence, now=now)


def silence_delete(*, silence: Silence, now: datetime | None = None) -> None:
    """Gone, not just ended: the alerts it held notify on the next sweep if still firing."""
    with transaction.atomic():
        silence.delete()
        holds_recheck(now=now or timezone.now())
