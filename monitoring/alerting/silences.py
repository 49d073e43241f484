"""Creating and ending silences; open alerts they cover are held at once."""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from analytics.tracker import track_usage
from monitoring.alerting.lifecycle import TransitionNotAllowed, alert_suppress
from monitoring.alerting.models import Alert, AlertRule, Silence
from monitoring.alerting.suppression import Hold, holds_recheck, silence_hold, suppressions_for

log = logging.getLogger(__name__)
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
    covered = silence_covered(silence=silence, now=now)
    with transaction.atomic():
        silence.save()
        _hold(silence, covered, now=now)
    return silence


def silence_covered(*, silence: Silence, now: datetime) -> list[tuple[int, Hold | None]]:
    """The open alerts an active silence covers: (id, the longest hold stored silences and
    windows give it). Matching runs here, on a plain read and before any write transaction: on
    SQLite a transaction holds the database's write lock from its first statement, so every other
    writer would wait for the matching of every open alert."""
    if not silence.is_active(now):
        return []
    alerts = Alert.objects.open().select_related("rule")
    if silence.rule_id:
        alerts = alerts.filter(rule_id=silence.rule_id)
    covered = [alert for alert in alerts.iterator(chunk_size=500) if silence.covers(alert)]
    return list(
        zip([alert.pk for alert in covered], suppressions_for(covered, now=now) if covered else [], strict=True)
    )


def silence_apply(*, silence: Silence, now: datetime) -> int:
    """Hold the open alerts an active silence covers; returns how many. Call it outside a
    transaction (e.g. from `transaction.on_commit`): only the holding writes take the lock."""
    return _hold(silence, silence_covered(silence=silence, now=now), now=now)


def _hold(silence: Silence, covered: list[tuple[int, Hold | None]], *, now: datetime) -> int:
    """Each alert is locked and re-checked by `alert_suppress`; its labels, rule and severity never
    change, so the match made before the lock still holds. An alert keeps a longer hold it has
    from elsewhere: a shorter silence over a held alert changes nothing."""
    mine = silence_hold(silence)
    held = 0
    for pk, other in covered:
        try:
            alert_suppress(alert=pk, hold=other if other and other.until > mine.until else mine, now=now)
            held += 1
        except TransitionNotAllowed:
            continue  # resolved meanwhile
    return held


@track_usage("alerts.silence")
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


def _said(silence: Silence, what: str, *, by, via: str, reason: str | None) -> None:
    who = by.get_username() if getattr(by, "pk", None) else "system"
    log.info("silence #%s %s by %s via %s%s", silence.pk, what, who, via, f": {reason}" if reason else "")


def silence_expire(*, silence: Silence, by, via: str, reason: str | None = None, now: datetime | None = None) -> bool:
    """End a silence now. Alerts it held are re-checked by the next suppression sweep."""
    now = now or timezone.now()
    with transaction.atomic():
        ended = Silence.objects.filter(pk=silence.pk, ends_at__gt=now).update(ends_at=max(now, silence.starts_at))
        if ended:
            holds_recheck(now=now)
    if ended:
        _said(silence, "ended", by=by, via=via, reason=reason)
    return bool(ended)


def silence_changed(*, silence: Silence, by, via: str, reason: str | None = None, now: datetime | None = None) -> int:
    """After an edit: a shorter or narrower silence may hold less (re-checked by the next sweep),
    a longer or wider one holds the alerts it now covers at once."""
    now = now or timezone.now()
    covered = silence_covered(silence=silence, now=now)
    with transaction.atomic():
        holds_recheck(now=now)
        held = _hold(silence, covered, now=now)
    _said(silence, "changed", by=by, via=via, reason=reason)
    return held


def silence_delete(*, silence: Silence, by, via: str, reason: str | None = None, now: datetime | None = None) -> None:
    """Gone, not just ended: the alerts it held notify on the next sweep if still firing."""
    pk = silence.pk
    with transaction.atomic():
        silence.delete()
        holds_recheck(now=now or timezone.now())
    silence.pk = pk
    _said(silence, "deleted", by=by, via=via, reason=reason)
