"""Models of the reporting app: report subscriptions and the stored report snapshots.

A subscription keeps one due-at column (`next_send_at`, UTC) for the per-minute sweep; the
sweep claims a subscription by moving that column with a conditional UPDATE, so two workers
never send the same report (reporting/digest.py). Everything else about "when" is derived
from the subscription's local schedule (reporting/subscriptions.py).
"""

from datetime import time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

# The one list of digest sections; reporting/sections.py gives each its provider and templates.
SECTION_NAMES = ("alerts", "uptime", "errors", "debt", "dependencies", "maintenance", "features")
MAX_SUBSCRIPTIONS_PER_USER = 20


def validate_sections(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one section (a list of section names).")
    if len(value) > len(SECTION_NAMES):
        raise ValidationError(f"At most {len(SECTION_NAMES)} sections.")
    unknown = [v for v in value if not isinstance(v, str) or v not in SECTION_NAMES]
    if unknown:
        raise ValidationError(f"Unknown section(s) {unknown!r}; known: {', '.join(SECTION_NAMES)}.")
    if len(set(value)) != len(value):
        raise ValidationError("A section is listed twice.")


@cache
def _zone_names() -> frozenset[str]:
    # available_timezones() walks the tz database on every call; it excludes odd keys such as
    # "localtime" that ZoneInfo would accept.
    return frozenset(available_timezones())


def validate_time_zone(value: str) -> None:
    if not isinstance(value, str) or value not in _zone_names():
        raise ValidationError(f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin).")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin).") from None


class Frequency(models.TextChoices):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


def default_sections() -> list[str]:
    return list(SECTION_NAMES)


class ReportSubscription(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    name = models.CharField(max_length=100, default="Digest")
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.WEEKLY)
    sections = models.JSONField(default=default_sections, validators=[validate_sections])
    send_time = models.TimeField(default=time(8, 0), help_text="Local time of day in the subscription's time zone.")
    weekday = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(6)], help_text="Weekly: 0 = Monday … 6 = Sunday."
    )
    # At most 28, so every month has the day (no "31st in February" rule to explain).
    monthday = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(28)], help_text="Monthly: day 1-28."
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    email_enabled = models.BooleanField(default=True)
    channel = models.ForeignKey(
        "alerting.Channel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="report_subscriptions",
        limit_choices_to={"kind__in": ("slack", "webhook")},
        help_text="Optional Slack or webhook channel that gets a short summary.",
    )
    enabled = models.BooleanField(default=True)
    # Due-at column for the sweep (UTC); None while disabled.
    next_send_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["user_id", "name", "id"]
        indexes = [
            models.Index(fields=["next_send_at"], name="reporting_sub_due", condition=models.Q(enabled=True)),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.frequency}, {self.user})"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def clean(self) -> None:
        super().clean()
        if self.channel_id and self.channel.kind not in ("slack", "webhook"):
            raise ValidationError({"channel": "Only a Slack or webhook channel can get a report summary."})


class ReportStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    PARTIAL = "partial"  # one of email / channel failed
    FAILED = "failed"
    NOT_SENT = "not_sent"  # nothing to send to (email off, no channel)


class Report(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled"
        MANUAL = "manual"

    subscription = models.ForeignKey(
        ReportSubscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    # Who the report was for, kept when the subscription is deleted (reports list per person).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    kind = models.CharField(max_length=10, choices=Frequency.choices)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULED)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    figures = models.JSONField(default=dict)
    html = models.TextField()
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="reporting_report_user")]
        constraints = [
            # Second guard behind the claim: one scheduled report per subscription and period.
            models.UniqueConstraint(
                fields=["subscription", "period_start"],
                condition=models.Q(trigger="scheduled"),
                name="reporting_report_once_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} report {self.period_start:%Y-%m-%d} to {self.period_end:%Y-%m-%d}"
