"""Deliveries: queue them, claim them, send them through the one wrapper, retry with backoff.

A Delivery row is written in the same transaction as the transition that causes it (so it is
never lost), and sent after commit by a task, or by the per-minute sweep if that task never ran.
Claims are conditional UPDATEs on (status, next_attempt_at): of two workers racing for the
same row exactly one sees rowcount 1, so each notification goes out once.
"""

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from monitoring.alerting.events import event_record
from monitoring.alerting.models import (
    Alert,
    AlertStatus,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    EventKind,
)
from monitoring.alerting.transports import Notification, PermanentError, TransportError, transport_class
from portal.lib.bulk import chunks, full_batches

log = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died mid-send; the row is handed out again
# (at-least-once in that rare case, rather than never).
STALE_CLAIM = timedelta(minutes=10)
# Deliveries one send task takes, as many as the sweep hands out at once: a task stopped at its
# time limit (a target timing out on every send) leaves the rest pending for the next sweep.
TASK_DELIVERIES = 500
EVENT_STATUS = {
    DeliveryEvent.TRIGGER: AlertStatus.FIRING,
    DeliveryEvent.ESCALATION: AlertStatus.FIRING,
    DeliveryEvent.ACKNOWLEDGE: AlertStatus.ACKNOWLEDGED,
    DeliveryEvent.RESOLVE: AlertStatus.RESOLVED,
}


def notifications_queue(
    *, alert: Alert | None, event: str, channels: Iterable[Channel], users: Iterable = (), step=None, now: datetime
) -> list[Delivery]:
    """Create one pending delivery per enabled channel that cares about `event`, plus one per user."""
    return deliveries_queue(
        deliveries_build(alert=alert, event=event, channels=channels, users=users, step=step, now=now)
    )


def deliveries_build(
    *, alert: Alert | None, event: str, channels: Iterable[Channel], users: Iterable = (), step=None, now: datetime
) -> list[Delivery]:
    """The unsaved rows `notifications_queue` writes, for writers that queue many alerts at once."""
    rows = [
        Delivery(alert=alert, channel=channel, event=event, step=step, next_attempt_at=now, created_at=now)
        for channel in channels
        if channel.enabled and event in transport_class(channel.kind).events
    ]
    if event in transport_class("email").events:  # people are emailed
        rows += [
            Delivery(alert=alert, user=user, event=event, step=step, next_attempt_at=now, created_at=now)
            for user in users
            if user.is_active and user.email
        ]
    return rows


def deliveries_queue(rows: list[Delivery]) -> list[Delivery]:
    """Write deliveries (in the caller's transaction) and send them after commit: one task per
    target (and per TASK_DELIVERIES), as the sweep does, so a slow webhook never holds up email
    and a storm of a thousand alerts is a few tasks, not a thousand."""
    if not rows:
        return []
    with full_batches():
        created = Delivery.objects.bulk_create(rows)
    groups: dict[tuple, list[int]] = {}
    for delivery in created:
        groups.setdefault((delivery.channel_id, delivery.user_id), []).append(delivery.pk)
    batches = [ids[i : i + TASK_DELIVERIES] for ids in groups.values() for i in range(0, len(ids), TASK_DELIVERIES)]
    transaction.on_commit(lambda: _send_later(batches))
    return created


def _send_later(batches: list[list[int]]) -> None:
    for ids in batches:
        async_task("monitoring.alerting.tasks.deliveries_send", ids)


def notified_targets(alerts: list[Alert]) -> dict[int, tuple[list[Channel], list]]:
    """By alert id, the channels that were told it fired and the people escalation paged: the
    ones to hear it was handled. Three queries for any number of alerts."""
    heard: dict[int, tuple[set, set]] = {}
    for ids in chunks([alert.pk for alert in alerts]):
        sent = Delivery.objects.filter(alert_id__in=ids, event__in=[DeliveryEvent.TRIGGER, DeliveryEvent.ESCALATION])
        for alert_id, channel_id, user_id in sent.values_list("alert_id", "channel_id", "user_id").distinct():
            channels, users = heard.setdefault(alert_id, (set(), set()))
            if channel_id:
                channels.add(channel_id)
            else:
                users.add(user_id)
    channel_ids = sorted({pk for channels, _ in heard.values() for pk in channels})
    user_ids = sorted({pk for _, users in heard.values() for pk in users})
    channels = [c for ids in chunks(channel_ids) for c in Channel.objects.filter(pk__in=ids)]
    people = [u for ids in chunks(user_ids) for u in get_user_model().objects.filter(pk__in=ids).order_by("pk")]
    return {
        alert_id: ([c for c in channels if c.pk in wanted], [u for u in people if u.pk in paged])
        for alert_id, (wanted, paged) in heard.items()
    }


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    base = getattr(settings, "ALERTING_DELIVERY_BACKOFF_SECONDS", 60)
    cap = getattr(settings, "ALERTING_DELIVERY_BACKOFF_MAX_SECONDS", 3600)
    seconds = min(cap, base * 2 ** min(max(0, attempts - 1), 30))  # capped exponent: no huge ints
    if retry_after is not None:
        seconds = min(cap, max(seconds, retry_after))
    return timedelta(seconds=seconds)


def delivery_claim(*, delivery_id: int, now: datetime) -> bool:
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
        status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def notification_build(delivery: Delivery) -> Notification:
    alert = delivery.alert
    if alert is None:
        return Notification(
            event=DeliveryEvent.TEST,
            title="Test notification",
            status="test",
            severity="info",
            summary=f"Test notification from the operations portal to {delivery.target_name}",
            description="If you can read this, the channel works.",
            value=None,
            alert_url=settings.PORTAL_BASE_URL + reverse("alerting:list"),
            occurred_at=timezone.now().isoformat(),
            delivery_id=delivery.pk,
        )
    actor = ""
    if delivery.event == DeliveryEvent.ACKNOWLEDGE and alert.acknowledged_by_id:
        actor = alert.acknowledged_by.get_username()
    elif delivery.event == DeliveryEvent.RESOLVE:
        actor = alert.resolved_by.get_username() if alert.resolved_by_id else "auto-resolved"
    status = EVENT_STATUS.get(delivery.event, alert.status)
    return Notification(
        event=delivery.event,
        title=f"[{status.upper()}] {alert.summary}",
        status=status,
        severity=alert.severity,
        summary=alert.summary,
        description=alert.description,
        value=alert.value,
        labels=dict(alert.labels or {}),
        alert_id=alert.pk,
        alert_url=settings.PORTAL_BASE_URL + reverse("alerting:detail", kwargs={"pk": alert.pk}),
        actor=actor,
        step=delivery.step,
        occurred_at=delivery.created_at.isoformat(),
        delivery_id=delivery.pk,
    )


def _stale(delivery: Delivery) -> str:
    """Why a trigger/escalation should not go out any more (the alert moved on), or ''."""
    alert = delivery.alert
    if alert is None or delivery.event not in (DeliveryEvent.TRIGGER, DeliveryEvent.ESCALATION):
        return ""
    return "" if alert.status == AlertStatus.FIRING else f"alert is {alert.status}; not sent"


def delivery_send(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Claim and send one delivery, recording the outcome. Returns the new status, or None when
    another worker had it (or it is not due). Never raises for transport problems."""
    now = now or timezone.now()
    if not delivery_claim(delivery_id=delivery_id, now=now):
        return None
    delivery = Delivery.objects.select_related(
        "alert", "alert__acknowledged_by", "alert__resolved_by", "channel", "user"
    ).get(pk=delivery_id)
    reason = _stale(delivery)
    if reason:
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.CANCELLED, last_error=reason)
        return DeliveryStatus.CANCELLED.value
    timeout = getattr(settings, "ALERTING_HTTP_TIMEOUT_SECONDS", 10.0)
    started = time.monotonic()
    try:
        if delivery.channel_id:
            transport = transport_class(delivery.channel.kind)(delivery.channel, timeout=timeout)
            recipients = delivery.channel.email_recipients() if delivery.channel.kind == "email" else None
        else:
            transport = transport_class("email")(None, timeout=timeout)
            recipients = [delivery.user.email]
        outcome = transport.send(notification_build(delivery), recipients=recipients)
    except PermanentError as exc:
        return _failed(delivery, str(exc), now=now, permanent=True)
    except TransportError as exc:
        return _retry_or_fail(delivery, str(exc), now=now, retry_after=exc.retry_after)
    except Exception as exc:  # a bug in a transport must not kill the worker or lose the row
        log.exception("delivery %s: unexpected error", delivery.pk)
        return _retry_or_fail(delivery, f"{type(exc).__name__}: {exc}", now=now, retry_after=None)
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENT, sent_at=now, last_error="")
        if delivery.channel_id:
            Channel.objects.filter(pk=delivery.channel_id).update(last_success_at=now)
        if delivery.alert_id:
            event_record(
                alert=delivery.alert,
                kind=EventKind.NOTIFIED,
                now=now,
                message=f"{delivery.event} sent to {delivery.target_name}: {outcome}",
                details=_details(delivery, duration_ms=duration_ms),
            )
    return DeliveryStatus.SENT.value


def _details(delivery: Delivery, **extra) -> dict:
    return {
        "delivery": delivery.pk,
        "channel": delivery.channel.name if delivery.channel_id else None,
        "user": delivery.user.get_username() if delivery.user_id else None,
        "event": delivery.event,
        "attempt": delivery.attempts,
        "step": delivery.step,
        **extra,
    }


def _retry_or_fail(delivery: Delivery, error: str, *, now: datetime, retry_after: float | None) -> str:
    limit = getattr(settings, "ALERTING_DELIVERY_MAX_ATTEMPTS", 6)
    if delivery.attempts >= limit:
        return _failed(delivery, f"gave up after {delivery.attempts} attempts: {error}", now=now, permanent=False)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now + backoff(delivery.attempts, retry_after),
        last_error=error[:2000],
        claimed_at=None,
    )
    return DeliveryStatus.PENDING.value


def _failed(delivery: Delivery, error: str, *, now: datetime, permanent: bool) -> str:
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, last_error=error[:2000], next_attempt_at=None
        )
        if delivery.channel_id:
            # Shown on the channel (admin, API) so a broken integration is noticed and fixed.
            Channel.objects.filter(pk=delivery.channel_id).update(last_error=error[:2000], last_error_at=now)
        if delivery.alert_id:
            event_record(
                alert=delivery.alert,
                kind=EventKind.NOTIFY_FAILED,
                now=now,
                message=f"{delivery.event} to {delivery.target_name} failed: {error}"[:2000],
                details=_details(delivery, permanent=permanent),
            )
    return DeliveryStatus.FAILED.value


def deliveries_release_stale(*, now: datetime) -> int:
    return Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=now - STALE_CLAIM).update(
        status=DeliveryStatus.PENDING, claimed_at=None
    )


def deliveries_due(*, now: datetime, limit: int = 500) -> dict[str, list[int]]:
    """Due delivery ids grouped by target, so each target can be sent by its own task: a slow
    Slack must not hold up email."""
    groups: dict[str, list[int]] = {}
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at")
    for pk, channel_id, user_id in due.values_list("pk", "channel_id", "user_id")[:limit]:
        key = f"channel:{channel_id}" if channel_id else f"user:{user_id}"
        groups.setdefault(key, []).append(pk)
    return groups


def delivery_send_isolated(*, delivery_id: int, now: datetime | None = None) -> str:
    """`delivery_send` for sweeps: an unexpected error (outside the transport, which
    `delivery_send` already records) is logged with the delivery's id and recorded on it as a
    failed attempt, retried with backoff like any other; the sweep goes on with the next one."""
    now = now or timezone.now()
    try:
        return delivery_send(delivery_id=delivery_id, now=now) or "skipped"
    except Exception as exc:
        log.exception("delivery %s: could not be processed", delivery_id)
        try:
            delivery = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).first()
            if delivery is not None:
                return _retry_or_fail(delivery, f"{type(exc).__name__}: {exc}", now=now, retry_after=None)
        except Exception:
            log.exception("delivery %s: could not record the error", delivery_id)
        return "error"


def deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Send every due delivery in this process (the command and tests; the scheduled task fans out)."""
    now = now or timezone.now()
    deliveries_release_stale(now=now)
    counts: dict[str, int] = {}
    for ids in deliveries_due(now=now, limit=limit).values():
        for pk in ids:
            status = delivery_send_isolated(delivery_id=pk, now=now)
            counts[status] = counts.get(status, 0) + 1
    return counts


def channel_test(*, channel: Channel, now: datetime | None = None) -> Delivery:
    """Queue a test notification (sent like any other, so it exercises retries too)."""
    now = now or timezone.now()
    delivery = Delivery.objects.create(channel=channel, event=DeliveryEvent.TEST, next_attempt_at=now, created_at=now)
    transaction.on_commit(lambda: async_task("monitoring.alerting.tasks.deliveries_send", [delivery.pk]))
    return delivery
