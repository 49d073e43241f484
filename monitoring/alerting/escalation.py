"""Escalation: who is told next while nobody acknowledges.

Progress lives on the alert (step, cycle, next_escalation_at). The sweeper picks alerts whose
next_escalation_at has passed, locks each, re-checks it is still firing and still due (the world
may have moved on since the SELECT), runs every due step and stores the next due time.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from monitoring.alerting.events import event_build, sweep_failure_record
from monitoring.alerting.models import (
    Alert,
    AlertEvent,
    AlertStatus,
    Delivery,
    DeliveryEvent,
    EscalationPolicy,
    EscalationStep,
    EventKind,
)
from monitoring.alerting.models.escalation import MAX_WAIT_MINUTES
from monitoring.alerting.notify import deliveries_build, deliveries_queue
from monitoring.alerting.suppression import hold_apply, suppression_for

ESCALATION_FIELDS = ["escalation_step", "escalation_cycle", "next_escalation_at"]


def _wait(minutes: int | None) -> timedelta:
    """A stored wait, clamped to the model's bounds: a row written around validation (a wait of
    2**40 minutes) overflowed `now + wait` and stopped the sweep; clamped it still escalates."""
    return timedelta(minutes=min(max(minutes or 0, 0), MAX_WAIT_MINUTES))


def _steps(alert: Alert) -> list[EscalationStep]:
    policy_id = alert.rule.escalation_policy_id if alert.rule_id else None
    if policy_id is None:
        return []
    return list(EscalationStep.objects.filter(policy_id=policy_id).prefetch_related("channels", "users"))


def _policies(alerts: list[Alert]) -> dict[int, EscalationPolicy]:
    """The alerts' policies with their steps, channels and people: four queries for any number."""
    ids = {alert.rule.escalation_policy_id for alert in alerts if alert.rule_id and alert.rule.escalation_policy_id}
    if not ids:
        return {}
    steps = Prefetch("steps", queryset=EscalationStep.objects.prefetch_related("channels", "users"))
    return {policy.pk: policy for policy in EscalationPolicy.objects.filter(pk__in=ids).prefetch_related(steps)}


def escalation_start(*, alert: Alert, now: datetime) -> None:
    """(Re)start from step 1. Caller holds the row lock inside a transaction."""
    before = [getattr(alert, name) for name in ESCALATION_FIELDS]
    deliveries, events = escalations_start(alerts=[alert], now=now)
    if [getattr(alert, name) for name in ESCALATION_FIELDS] != before:
        alert.save(update_fields=ESCALATION_FIELDS)
    deliveries_queue(deliveries)
    AlertEvent.objects.bulk_create(events)


def escalations_start(*, alerts: list[Alert], now: datetime) -> tuple[list[Delivery], list[AlertEvent]]:
    """`escalation_start` for many alerts: sets each one's escalation fields (step 1 due after its
    wait; no policy, nothing due) and runs the steps due at once. Returns the delivery and event
    rows, unsaved: the caller saves the alerts and writes the rows in its transaction (new alerts
    in the same bulk inserts as the alerts themselves)."""
    policies = _policies(alerts)
    deliveries: list[Delivery] = []
    events: list[AlertEvent] = []
    for alert in alerts:
        policy = policies.get(alert.rule.escalation_policy_id) if alert.rule_id else None
        steps = list(policy.steps.all()) if policy else []
        alert.escalation_step = 0
        alert.escalation_cycle = 0
        alert.next_escalation_at = now + _wait(steps[0].wait_minutes) if steps else None
        if steps:
            _due(alert, policy, steps, now=now, deliveries=deliveries, events=events)
    return deliveries, events


def escalation_stop(alert: Alert) -> None:
    """Acknowledging or resolving ends escalation; the caller saves `next_escalation_at`."""
    alert.next_escalation_at = None


def _run_due(alert: Alert, steps: list[EscalationStep], *, now: datetime) -> None:
    deliveries: list[Delivery] = []
    events: list[AlertEvent] = []
    _due(alert, alert.rule.escalation_policy, steps, now=now, deliveries=deliveries, events=events)
    deliveries_queue(deliveries)
    AlertEvent.objects.bulk_create(events)
    alert.save(update_fields=ESCALATION_FIELDS)


def _due(
    alert: Alert,
    policy: EscalationPolicy,
    steps: list[EscalationStep],
    *,
    now: datetime,
    deliveries: list[Delivery],
    events: list[AlertEvent],
) -> None:
    """Run every step due at `now`: advance the alert's fields (not saved) and add the rows to write."""
    while alert.next_escalation_at is not None and alert.next_escalation_at <= now:
        index = min(alert.escalation_step, len(steps) - 1)
        step = steps[index]
        channels, users = list(step.channels.all()), list(step.users.all())
        deliveries += deliveries_build(
            alert=alert, event=DeliveryEvent.ESCALATION, channels=channels, users=users, step=index, now=now
        )
        events.append(
            event_build(
                alert=alert,
                kind=EventKind.ESCALATED,
                now=now,
                message=f"escalation step {index + 1} of {len(steps)}"
                + (f" (repeat {alert.escalation_cycle})" if alert.escalation_cycle else ""),
                details={
                    "policy": policy.name,
                    "step": index + 1,
                    "cycle": alert.escalation_cycle,
                    "channels": [c.name for c in channels],
                    "users": [u.get_username() for u in users],
                },
            )
        )
        # Next due time counts from now, not from the missed due time, so a sweeper that was
        # down for an hour does not fire every step at once when it comes back.
        if index + 1 < len(steps):
            alert.escalation_step = index + 1
            alert.next_escalation_at = now + _wait(steps[index + 1].wait_minutes)
        elif alert.escalation_cycle < policy.repeat:
            alert.escalation_cycle += 1
            alert.escalation_step = 0
            alert.next_escalation_at = now + max(_wait(policy.repeat_after_minutes), timedelta(minutes=1))
        else:
            alert.next_escalation_at = None


def escalation_advance(*, alert_id: int, now: datetime | None = None) -> bool:
    """Run the due steps of one alert; False when it was not due any more."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("rule", "rule__escalation_policy")
            .filter(pk=alert_id)
            .first()
        )
        if (
            alert is None
            or alert.status != AlertStatus.FIRING
            or alert.next_escalation_at is None
            or alert.next_escalation_at > now
        ):
            return False
        hold = suppression_for(alert, now=now)
        if hold is not None:
            hold_apply(alert=alert, hold=hold, now=now)
            return False
        steps = _steps(alert)
        if not steps:  # the policy was removed or emptied since
            alert.next_escalation_at = None
            alert.save(update_fields=["next_escalation_at"])
            return False
        _run_due(alert, steps, now=now)
        return True


def escalation_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Advance every due alert; one that fails is logged, marked and retried later, the others go on."""
    now = now or timezone.now()
    due = Alert.objects.filter(status=AlertStatus.FIRING, next_escalation_at__lte=now).order_by("next_escalation_at")
    advanced = 0
    for pk in list(due.values_list("pk", flat=True)[:limit]):
        try:
            advanced += escalation_advance(alert_id=pk, now=now)
        except Exception as exc:
            sweep_failure_record(alert_id=pk, sweep="escalation", due_field="next_escalation_at", error=exc, now=now)
    return advanced
