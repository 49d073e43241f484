"""Alerts, their single status, and the event log that is both audit trail and outbox."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from monitoring.alerting.models.rules import Severity


class AlertStatus(models.TextChoices):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_STATUSES = (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED)


class AlertQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)


class Alert(models.Model):
    rule = models.ForeignKey(
        "alerting.AlertRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    fingerprint = models.CharField(max_length=40, db_index=True)
    labels = models.JSONField(default=dict)
    service = models.ForeignKey(
        "portal.Service", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    summary = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    value = models.FloatField(null=True, blank=True, help_text="Evaluated value at the last transition.")
    created_at = models.DateTimeField(default=timezone.now, help_text="When it fired.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # MTTA reads the first acknowledgement: acknowledged_at is cleared by an unacknowledge or a
    # reopen, this one is set once and kept (reading it from the events costs a subquery per alert).
    first_acknowledged_at = models.DateTimeField(null=True, blank=True, editable=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Escalation progress; next_escalation_at is the due-at column the sweeper looks for.
    escalation_step = models.PositiveIntegerField(default=0)
    escalation_cycle = models.PositiveIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    # Set while notifications are held back by a silence or maintenance window: when it passes
    # and the alert is still firing, it notifies once.
    suppressed_until = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("acknowledge_alert", "Can acknowledge, resolve, reopen and comment on alerts")]
        constraints = [
            # Dedup: at most one open alert per rule + label set.
            models.UniqueConstraint(
                fields=["fingerprint"], condition=Q(status__in=OPEN_STATUSES), name="alerting_alert_one_open"
            )
        ]
        indexes = [
            # Lists and the API read newest first, whole or filtered by status, service or rule.
            models.Index(fields=["-created_at", "-id"], name="alert_newest"),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["service", "-created_at", "-id"], name="alert_service_newest"),
            models.Index(fields=["rule", "-created_at", "-id"], name="alert_rule_newest"),
            # Operations figures (MTTA/MTTR per service, rule or severity over a period) read
            # only these columns: the index covers them, so a period is scanned without the rows.
            models.Index(
                fields=["created_at", "service", "rule", "severity", "first_acknowledged_at", "resolved_at"],
                name="alert_figures",
            ),
            models.Index(
                fields=["next_escalation_at"],
                condition=Q(next_escalation_at__isnull=False),
                name="alert_escalation_due",
            ),
            models.Index(
                fields=["suppressed_until"], condition=Q(suppressed_until__isnull=False), name="alert_suppression_due"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.summary}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class EventKind(models.TextChoices):
    TRIGGERED = "triggered"
    NOTIFIED = "notified"
    NOTIFY_FAILED = "notify_failed", "notification failed"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    COMMENTED = "commented"
    SUPPRESSED = "suppressed"
    UNSUPPRESSED = "unsuppressed"


class AlertEvent(models.Model):
    """One row per transition, notification, escalation and comment. Never updated."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    value = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["alert", "created_at"]),
            models.Index(fields=["-created_at", "-id"], name="alert_event_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.alert_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def actor_name(self) -> str:
        if self.actor_id:
            return self.actor.get_username()
        if "by" in self.details:
            return self.details["by"]
        via = self.details.get("via", "")
        return via or "system"


class AckLinkUse(models.Model):
    """Spent one-click acknowledge links (their nonce), so each works once."""

    nonce = models.CharField(max_length=32, unique=True)
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="+")
    recipient = models.CharField(max_length=254)
    used_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"ack link {self.nonce} for #{self.alert_id}"
