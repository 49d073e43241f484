"""Alert transitions: one function each, the only code that changes an alert's status.

Each one locks the row, checks the allowed starting states (here and nowhere else), saves
only the fields it changed, writes an AlertEvent and queues notifications as Delivery rows in
the same transaction (they are sent after commit). Pages, API, admin, email links and the
evaluator all call these.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.tracker import track_usage
from monitoring.alerting.escalation import escalation_start, escalation_stop, escalations_start
from monitoring.alerting.events import event_build, event_record, sweep_failure_record
from monitoring.alerting.models import (
    OPEN_STATUSES,
    Alert,
    AlertEvent,
    AlertRule,
    AlertStatus,
    Channel,
    Delivery,
    DeliveryEvent,
    EventKind,
)
from monitoring.alerting.notify import (
    deliveries_build,
    deliveries_queue,
    notifications_queue,
    notified_targets,
)
from monitoring.alerting.suppression import Hold, hold_apply, hold_event, suppression_for, suppressions_for
from portal.lib.bulk import bulk_set, chunks, full_batches
from portal.models import Service

FIRING, ACKNOWLEDGED, RESOLVED = AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED
EVALUATOR = "evaluator"  # `via` of changes the evaluator makes on its own


class TransitionNotAllowed(Exception):
    """The alert is not in a state this action applies to (shown to the person as is)."""

    def __init__(self, alert: Alert, action: str, message: str | None = None):
        self.alert, self.action = alert, action
        super().__init__(message or f"Cannot {action} alert #{alert.pk}: it is {alert.status}.")


def _lock(alert: Alert | int) -> Alert:
    pk = alert if isinstance(alert, int) else alert.pk
    return _locking().get(pk=pk)


def _lock_all(pks: list[int]) -> list[Alert]:
    """`_lock` for many, in id order (two writers locking overlapping sets cannot deadlock)."""
    locked: list[Alert] = []
    for ids in chunks(sorted(pks)):
        locked += _locking().filter(pk__in=ids).order_by("pk")
    return locked


def _locking():
    return Alert.objects.select_for_update(of=("self",)).select_related("rule", "rule__escalation_policy", "service")


def _require(alert: Alert, action: str, allowed: tuple[str, ...]) -> None:
    if alert.status not in allowed:
        raise TransitionNotAllowed(alert, action)


def _announce(alert: Alert, *, now: datetime, hold: Hold | None) -> None:
    """A newly firing alert: notify the rule's channels and start escalation, unless held."""
    if hold is not None:
        hold_apply(alert=alert, hold=hold, now=now)
        return
    channels = list(alert.rule.channels.all()) if alert.rule_id else []
    notifications_queue(alert=alert, event=DeliveryEvent.TRIGGER, channels=channels, now=now)
    escalation_start(alert=alert, now=now)


def _tell_notified(alerts: list[Alert], *, event: str, now: datetime) -> None:
    """Follow-ups (acknowledged, resolved) go to the channels and people that heard about each
    alert, unless a silence or maintenance window holds the alert's notifications right now."""
    heard = notified_targets(alerts)
    told = [alert for alert in alerts if alert.pk in heard]
    rows: list[Delivery] = []
    for alert, hold in zip(told, suppressions_for(told, now=now) if told else [], strict=True):
        if hold is None:
            channels, users = heard[alert.pk]
            rows += deliveries_build(alert=alert, event=event, channels=channels, users=users, now=now)
    deliveries_queue(rows)


@dataclass(frozen=True)
class Firing:
    """One label set whose condition holds: what `alerts_fire` opens an alert for."""

    rule: AlertRule
    fingerprint: str
    labels: dict
    value: float | None
    summary: str
    description: str = ""
    service: Service | None = None
    severity: str | None = None  # None: the rule's (receivers take it from the sender's labels)


def alert_fire(
    *,
    rule: AlertRule,
    fingerprint: str,
    labels: dict,
    value: float | None,
    summary: str,
    description: str = "",
    service: Service | None = None,
    severity: str | None = None,
    now: datetime | None = None,
) -> tuple[Alert, bool]:
    """Open an alert; returns (alert, created). An alert already open for the same fingerprint
    is returned as is: the partial unique constraint is the dedup, even between two evaluators."""
    firing = Firing(rule, fingerprint, labels, value, summary, description, service, severity)
    return alerts_fire(firings=[firing], now=now)[0]


def alerts_fire(*, firings: list[Firing], now: datetime | None = None) -> list[tuple[Alert, bool]]:
    """Open an alert per firing: `alert_fire` for many (the same rows: alert, `triggered` event,
    hold or trigger deliveries and escalation), in a number of queries that follows the rules and
    policies involved, not the alerts. Returns (alert, created) in the order of `firings`."""
    now = now or timezone.now()
    alerts = [
        Alert(
            rule=f.rule,
            fingerprint=f.fingerprint,
            labels=f.labels,
            service=f.service,
            severity=f.severity or f.rule.severity,
            summary=f.summary[:300],
            description=f.description,
            value=f.value,
            created_at=now,
        )
        for f in firings
    ]
    first: dict[str, tuple[Alert, Firing]] = {}
    for alert, firing in zip(alerts, firings, strict=True):
        first.setdefault(alert.fingerprint, (alert, firing))
    # Sorted: two writers inserting overlapping storms take the unique index in the same order.
    new = [first[fp] for fp in sorted(first)]
    # Everything is read and decided before the write transaction (on SQLite it holds the write
    # lock from BEGIN): silences match on the alert's rule, labels, severity and service.
    events, deliveries = _announce_new(new, now=now)
    with transaction.atomic():
        taken = _insert([alert for alert, _ in new])
        if taken:
            events = [row for row in events if row.alert.fingerprint not in taken]
            deliveries = [row for row in deliveries if row.alert.fingerprint not in taken]
        with full_batches():
            AlertEvent.objects.bulk_create(events)
        deliveries_queue(deliveries)
    results = []
    for alert in alerts:
        written = first[alert.fingerprint][0]
        if alert.fingerprint in taken:
            results.append((taken[alert.fingerprint], False))
        else:  # a fingerprint twice in `firings` is one alert, created once
            results.append((written, alert is written))
    return results


def _announce_new(new: list[tuple[Alert, Firing]], *, now: datetime) -> tuple[list[AlertEvent], list[Delivery]]:
    """`triggered`, then `_announce` for alerts not written yet: held ones get their hold, the
    others their rule's channels and escalation. Fields are set in memory; the rows are returned."""
    events: list[AlertEvent] = []
    deliveries: list[Delivery] = []
    holds = suppressions_for([alert for alert, _ in new], now=now)
    channels = _rule_channels({alert.rule_id for alert, _ in new})
    announced = []
    for (alert, firing), hold in zip(new, holds, strict=True):
        events.append(
            event_build(alert=alert, kind=EventKind.TRIGGERED, now=now, value=firing.value, message=firing.summary)
        )
        if hold is not None:
            alert.suppressed_until = hold.until
            events.append(hold_event(alert=alert, hold=hold, now=now))
            continue
        deliveries += deliveries_build(
            alert=alert, event=DeliveryEvent.TRIGGER, channels=channels.get(alert.rule_id, ()), now=now
        )
        announced.append(alert)
    more_deliveries, more_events = escalations_start(alerts=announced, now=now)
    # Rows of one alert keep the order one alert_fire writes: triggered, then escalated.
    events += more_events
    deliveries += more_deliveries
    return events, deliveries


def _rule_channels(rule_ids: set[int]) -> dict[int, list[Channel]]:
    through = AlertRule.channels.through
    found: dict[int, list[Channel]] = {}
    for ids in chunks(sorted(rule_ids)):
        links = through.objects.filter(alertrule_id__in=ids).select_related("channel")
        for link in links.order_by("channel__name", "channel_id"):  # as `rule.channels.all()` lists them
            found.setdefault(link.alertrule_id, []).append(link.channel)
    return found


def _insert(alerts: list[Alert]) -> dict[str, Alert]:
    """Write new alerts in bulk. Returns, by fingerprint, the open alerts another writer opened
    first (the one-open-alert constraint refused ours; those are left out and the rest retried)."""
    taken: dict[str, Alert] = {}
    todo = alerts
    while todo:
        try:
            with transaction.atomic(), full_batches():
                Alert.objects.bulk_create(todo)
            return taken
        except IntegrityError:
            for alert in todo:  # an earlier statement of the batch may have set ids before the rollback
                alert.pk, alert._state.adding = None, True
            found = _open_by_fingerprint([alert.fingerprint for alert in todo])
            if not found:
                raise  # not the dedup constraint: a real error
            taken.update(found)
            todo = [alert for alert in todo if alert.fingerprint not in found]
    return taken


def _open_by_fingerprint(fingerprints: list[str]) -> dict[str, Alert]:
    found: dict[str, Alert] = {}
    for chunk in chunks(fingerprints):
        found.update((alert.fingerprint, alert) for alert in Alert.objects.open().filter(fingerprint__in=chunk))
    return found


def _source(by, via: str) -> dict:
    """Where a change came from, for the event row: a person acts through `via` (page, api,
    admin, email link); without one, `via` names the actor (evaluator, rule change)."""
    return {"via": via} if by else {"by": via}


def _person(by):
    return by if getattr(by, "pk", None) else None


@track_usage("alerts.acknowledge")
def alert_acknowledge(
    *, alert: Alert | int, by, via: str, reason: str | None = None, now: datetime | None = None
) -> Alert:
    now = now or timezone.now()
    with transaction.atomic():
        alert = _lock(alert)
        _require(alert, "acknowledge", (FIRING,))
        alert.status = ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledged_by = _person(by)
        if alert.first_acknowledged_at is None:  # kept through unacknowledge and reopen: MTTA's
            alert.first_acknowledged_at = now
        escalation_stop(alert)
        fields = ["status", "acknowledged_at", "acknowledged_by", "first_acknowledged_at", "next_escalation_at"]
        alert.save(update_fields=fields)
        event_record(
            alert=alert,
            kind=EventKind.ACKNOWLEDGED,
            now=now,
            actor=by,
            message=reason or "",
            details=_source(by, via),
        )
        _tell_notified([alert], event=DeliveryEvent.ACKNOWLEDGE, now=now)
    return alert


def alert_unacknowledge(
    *, alert: Alert | int, by, via: str, reason: str | None = None, now: datetime | None = None
) -> Alert:
    """Hand an acknowledged alert back: it fires again and escalation starts over."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _lock(alert)
        _require(alert, "unacknowledge", (ACKNOWLEDGED,))
        alert.status = FIRING
        alert.acknowledged_at = None
        alert.acknowledged_by = None
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        event_record(
            alert=alert,
            kind=EventKind.UNACKNOWLEDGED,
            now=now,
            actor=by,
            message=reason or "",
            details=_source(by, via),
        )
        if alert.suppressed_until is None or alert.suppressed_until <= now:
            escalation_start(alert=alert, now=now)
    return alert


@track_usage("alerts.resolve")
def alert_resolve(
    *,
    alert: Alert | int,
    by,
    via: str,
    reason: str | None = None,
    now: datetime | None = None,
    value: float | None = None,
) -> Alert:
    """Close an alert: by a person, or by the evaluator (`by=None, via="evaluator"`) when the
    condition cleared, or by a rule change."""
    (resolved,) = _resolve([alert], [value], by=by, via=via, reason=reason, now=now, refuse=True)
    return resolved


def alerts_resolve(
    *,
    alerts: list[Alert | int],
    by,
    via: str,
    reason: str | None = None,
    now: datetime | None = None,
    values: list[float | None] | None = None,
) -> list[Alert]:
    """`alert_resolve` for many (a storm clearing): the same rows, in a number of queries that
    does not grow with the alerts. An alert no longer open (resolved meanwhile) is left out of
    the result rather than refused; `values[i]` is alerts[i]'s value, when given."""
    return _resolve(alerts, values or [None] * len(alerts), by=by, via=via, reason=reason, now=now, refuse=False)


def _resolve(
    alerts: list[Alert | int],
    values: list[float | None],
    *,
    by,
    via: str,
    reason: str | None,
    now: datetime | None,
    refuse: bool,
) -> list[Alert]:
    now = now or timezone.now()
    wanted = {(a if isinstance(a, int) else a.pk): value for a, value in zip(alerts, values, strict=True)}
    with transaction.atomic():
        locked = _lock_all(list(wanted))
        if refuse:
            if len(locked) < len(wanted):
                raise Alert.DoesNotExist("Alert matching query does not exist.")
            for alert in locked:
                _require(alert, "resolve", OPEN_STATUSES)
        resolved = [alert for alert in locked if alert.status in OPEN_STATUSES]
        if not resolved:
            return []
        person = _person(by)
        for alert in resolved:
            alert.status = RESOLVED
            alert.resolved_at = now
            alert.resolved_by = person
            alert.suppressed_until = None
            escalation_stop(alert)
            if wanted[alert.pk] is not None:
                alert.value = wanted[alert.pk]
        bulk_set(resolved, ["status", "resolved_at", "resolved_by", "suppressed_until", "next_escalation_at", "value"])
        message = reason or ("condition cleared" if via == EVALUATOR else "")
        events = [
            event_build(
                alert=alert,
                kind=EventKind.RESOLVED,
                now=now,
                actor=by,
                value=wanted[alert.pk],
                message=message,
                details=_source(by, via),
            )
            for alert in resolved
        ]
        with full_batches():
            AlertEvent.objects.bulk_create(events)
        _tell_notified(resolved, event=DeliveryEvent.RESOLVE, now=now)
    return resolved


def alert_reopen(
    *,
    alert: Alert | int,
    by,
    via: str,
    reason: str | None = None,
    now: datetime | None = None,
    value: float | None = None,
    summary: str = "",
    description: str | None = None,
) -> Alert:
    """A resolved alert fires again (a person says it is not fixed, or the evaluator sees the
    condition still true after a manual resolve). Escalation starts over. The evaluator passes
    the current value and texts: the notifications it queues are built from the alert row."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _lock(alert)
        _require(alert, "reopen", (RESOLVED,))
        alert.status = FIRING
        alert.resolved_at = None
        alert.resolved_by = None
        alert.acknowledged_at = None
        alert.acknowledged_by = None
        fields = ["status", "resolved_at", "resolved_by", "acknowledged_at", "acknowledged_by"]
        if value is not None:
            alert.value = value
            fields.append("value")
        if summary:
            alert.summary = summary[:300]
            fields.append("summary")
        if description is not None:
            alert.description = description
            fields.append("description")
        try:
            with transaction.atomic():
                alert.save(update_fields=fields)
        except IntegrityError:
            raise TransitionNotAllowed(
                alert, "reopen", f"Cannot reopen alert #{alert.pk}: a newer alert for the same rule and labels is open."
            ) from None
        event_record(
            alert=alert,
            kind=EventKind.REOPENED,
            now=now,
            actor=by,
            value=value,
            message=reason or "",
            details=_source(by, via),
        )
        _announce(alert, now=now, hold=suppression_for(alert, now=now))
    return alert


@track_usage("alerts.comment")
def alert_comment(*, alert: Alert | int, by, via: str, text: str, now: datetime | None = None) -> AlertEvent:
    """Comments are allowed in every state: the post-mortem happens after resolution."""
    now = now or timezone.now()
    text = (text or "").strip()
    if not text:
        raise ValueError("text: a comment cannot be empty.")
    with transaction.atomic():
        alert = _lock(alert)
        return event_record(
            alert=alert, kind=EventKind.COMMENTED, now=now, actor=by, message=text[:5000], details=_source(by, via)
        )


def alert_suppress(*, alert: Alert | int, hold: Hold, now: datetime | None = None) -> Alert:
    """Hold notifications of an open alert (a silence was just created for it)."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _lock(alert)
        _require(alert, "silence", OPEN_STATUSES)
        hold_apply(alert=alert, hold=hold, now=now)
    return alert


def alert_unsuppress(*, alert: Alert | int, now: datetime | None = None) -> bool:
    """Called when `suppressed_until` has passed. Still held (another silence, the next window)?
    Extend. Otherwise a still-firing alert notifies once and escalation starts. True if notified."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _lock(alert)
        if alert.suppressed_until is None or alert.suppressed_until > now:
            return False  # moved on since the sweeper looked
        if alert.status not in OPEN_STATUSES:
            alert.suppressed_until = None
            alert.save(update_fields=["suppressed_until"])
            return False
        hold = suppression_for(alert, now=now)
        if hold is not None:
            hold_apply(alert=alert, hold=hold, now=now)
            return False
        alert.suppressed_until = None
        alert.save(update_fields=["suppressed_until"])
        event_record(alert=alert, kind=EventKind.UNSUPPRESSED, now=now, message="silence or maintenance ended")
        if alert.status != FIRING:
            return False  # acknowledged meanwhile: someone is on it, nobody needs paging
        _announce(alert, now=now, hold=None)
        return True


def suppression_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Alerts whose hold has passed; one that fails is logged, marked and retried later, the others go on."""
    now = now or timezone.now()
    due = Alert.objects.filter(suppressed_until__lte=now).values_list("pk", flat=True)[:limit]
    notified = 0
    for pk in list(due):
        try:
            notified += alert_unsuppress(alert=pk, now=now)
        except Exception as exc:
            sweep_failure_record(alert_id=pk, sweep="suppression", due_field="suppressed_until", error=exc, now=now)
    return notified
