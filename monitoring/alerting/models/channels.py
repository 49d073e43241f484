"""Where notifications go, and every attempt to send one."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ChannelKind(models.TextChoices):
    EMAIL = "email"
    SLACK = "slack"
    WEBHOOK = "webhook"


class Channel(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    enabled = models.BooleanField(default=True)
    # email
    addresses = models.JSONField(default=list, blank=True, help_text="Extra email addresses (email channels).")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="alert_channels")
    groups = models.ManyToManyField(Group, blank=True, related_name="alert_channels")
    # webhook: target URL (not secret); slack keeps its incoming-webhook URL in `secret`
    # because that URL is itself the credential.
    url = models.URLField(max_length=500, blank=True, help_text="Webhook target URL.")
    secret = models.CharField(
        max_length=500,
        blank=True,
        help_text="Slack: the incoming-webhook URL. Webhook: the HMAC-SHA256 signing key. Write-only.",
    )
    # Shown on the channel so a broken integration is visible without reading delivery logs.
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    @property
    def url_host(self) -> str:
        """What may be shown of the webhook URL: its path or query often carries a token."""
        try:
            parts = urlsplit(self.url)
            return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""
        except ValueError:
            return ""

    @property
    def is_broken(self) -> bool:
        return bool(self.last_error_at) and (self.last_success_at is None or self.last_success_at < self.last_error_at)

    def email_recipients(self) -> list[str]:
        found = [a for a in map(_address, self.addresses or ()) if a]
        found += [u.email for u in self.users.all() if u.email and u.is_active]
        for group in self.groups.all():
            found += [u.email for u in group.user_set.all() if u.email and u.is_active]
        return list(dict.fromkeys(found))

    def ack_addresses(self) -> set[str]:
        """Addresses without a portal account whose one-click links may acknowledge (lower case)."""
        return {
            _address(entry).lower()
            for entry in self.addresses or ()
            if isinstance(entry, dict) and entry.get("ack") is True and _address(entry)
        }


def _address(entry) -> str:
    """An `addresses` entry is "a@b.c" (told only) or {"address": "a@b.c", "ack": true}."""
    if isinstance(entry, dict):
        entry = entry.get("address", "")
    return entry if isinstance(entry, str) else ""


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the alert moved on (acknowledged/resolved) before it went out


class DeliveryEvent(models.TextChoices):
    TRIGGER = "trigger"
    ESCALATION = "escalation"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    TEST = "test"


class Delivery(models.Model):
    """One notification to one channel (or one user), retried until sent or given up."""

    alert = models.ForeignKey(
        "alerting.Alert", null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Escalation straight to a person: emailed.",
    )
    event = models.CharField(max_length=12, choices=DeliveryEvent.choices)
    step = models.PositiveIntegerField(null=True, blank=True, help_text="Escalation step, if any.")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status__in=["pending", "sending"]), name="delivery_due"
            ),
            models.Index(fields=["-created_at", "-id"], name="delivery_newest"),
            models.Index(fields=["channel", "-created_at", "-id"], name="delivery_channel_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__isnull=False) | Q(user__isnull=False), name="delivery_has_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.target_name} ({self.status})"

    @property
    def target_name(self) -> str:
        if self.channel_id:
            return self.channel.name
        return self.user.get_username() if self.user_id else "?"
