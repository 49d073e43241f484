"""Is an alert's notification held back right now, and until when?"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Q

from monitoring.alerting.events import event_build
from monitoring.alerting.models import OPEN_STATUSES, Alert, AlertEvent, EventKind, MaintenanceWindow, Silence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    until: datetime
    reason: str
    details: dict = field(default_factory=dict)


def suppression_for(alert: Alert, *, now: datetime) -> Hold | None:
    """The longest hold among active silences and maintenance windows covering the alert."""
    return suppressions_for([alert], now=now)[0]


def suppressions_for(alerts: list[Alert], *, now: datetime) -> list[Hold | None]:
    """`suppression_for` of each alert, with the active silences and windows read once."""
    silences = list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now).select_related("author"))
    services = {alert.service_id for alert in alerts}
    windows = MaintenanceWindow.objects.filter(starts_at__lte=now).filter(
        Q(service__isnull=True) | Q(service_id__in=services - {None})
    )
    open_windows = []
    for window in windows.exclude(cron="", ends_at__lte=now):
        until = _safely(window.active_until, now, what=f"maintenance window {window.pk}")
        if until is not None:
            open_windows.append((window, until))
    found: list[Hold | None] = []
    for alert in alerts:
        holds: list[Hold] = []
        for silence in silences:
            if _safely(silence.covers, alert, what=f"silence {silence.pk}"):
                holds.append(silence_hold(silence))
        for window, until in open_windows:
            if window.covers_service(alert.service_id):
                holds.append(
                    Hold(until, f"maintenance window: {window.name}", {"window": window.pk, "until": _iso(until)})
                )
        found.append(max(holds, key=lambda h: h.until) if holds else None)
    return found


def silence_hold(silence: Silence) -> Hold:
    return Hold(silence.ends_at, f"silenced: {silence.reason}", {"silence": silence.pk, "until": _iso(silence.ends_at)})


def hold_apply(*, alert: Alert, hold: Hold, now: datetime) -> None:
    """Hold notifications and pause escalation. The caller holds the row lock.

    A `suppressed` event only when the hold changed (another silence or window, or another end),
    not each time the same hold is applied again: escalation attempts while held, and the re-check
    of every held alert after any silence or window was edited (`holds_recheck`)."""
    changed = alert.suppressed_until != hold.until and _hold_changed(alert, hold)
    alert.suppressed_until = hold.until
    alert.next_escalation_at = None
    alert.save(update_fields=["suppressed_until", "next_escalation_at"])
    if changed:
        hold_event(alert=alert, hold=hold, now=now).save(force_insert=True)


def _hold_changed(alert: Alert, hold: Hold) -> bool:
    """Which hold holds an alert is not stored on it (`holds_recheck` overwrites its end): the
    alert's last suppressed/unsuppressed event says it."""
    last = (
        AlertEvent.objects.filter(alert=alert, kind__in=(EventKind.SUPPRESSED, EventKind.UNSUPPRESSED))
        .order_by("-id")
        .values_list("kind", "details")
        .first()
    )
    return last is None or last[0] != EventKind.SUPPRESSED or _hold_key(last[1]) != _hold_key(hold.details)


def _hold_key(details: dict) -> tuple:
    until = details.get("until")
    try:
        moment = datetime.fromisoformat(until) if isinstance(until, str) else None
    except ValueError:
        moment = None
    return details.get("silence"), details.get("window"), moment


def hold_event(*, alert: Alert, hold: Hold, now: datetime) -> AlertEvent:
    """The `suppressed` event a hold writes, unsaved (a storm writes many at once)."""
    return event_build(alert=alert, kind=EventKind.SUPPRESSED, now=now, message=hold.reason, details=hold.details)


def holds_recheck(*, now: datetime) -> int:
    """After a silence or maintenance window changed or went away: which one holds which alert
    is not stored, so every held alert is handed to the next suppression sweep, which asks
    `suppression_for` again (still held: extended; not: notifies once if still firing)."""
    return Alert.objects.filter(status__in=OPEN_STATUSES, suppressed_until__gt=now).update(suppressed_until=now)


def _safely(method, *args, what: str):
    """One stored silence or window that cannot be evaluated (a date near the end of the
    calendar, say) holds nothing and is logged; the others still hold and alerting goes on."""
    try:
        return method(*args)
    except Exception:
        log.exception("suppression: %s could not be evaluated; it holds nothing", what)
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
