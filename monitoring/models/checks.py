"""Health checks, their results and heartbeat pings.

A check's `last_*` columns are a denormalized copy of its latest result, so lists and the
readiness endpoint read one row per check; `next_run_at` is the due-at column the sweep claims.
"""

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from monitoring.healthchecks import status as health
from monitoring.healthchecks.bounds import (
    MAX_GRACE_SECONDS,
    MAX_INTERVAL_SECONDS,
    MAX_PERIOD_SECONDS,
    MAX_TIMEOUT_SECONDS,
    MIN_INTERVAL_SECONDS,
    MIN_TIMEOUT_SECONDS,
)
from monitoring.healthchecks.kinds import KINDS
from portal.models import Service


class HealthStatus(models.TextChoices):
    HEALTHY = health.HEALTHY, "Healthy"
    DEGRADED = health.DEGRADED, "Degraded"
    UNHEALTHY = health.UNHEALTHY, "Unhealthy"


class CheckKind(models.TextChoices):
    SYSTEM = "system", "System thresholds (CPU, memory, disk)"
    DATABASE = "database", "Database round trip"
    HTTP = "http", "HTTP request"
    TCP = "tcp", "TCP connect"
    HEARTBEAT = "heartbeat", "Heartbeat (a job pings /ping/<uuid>)"
    CUSTOM = "custom", "Custom callable"
    SCRAPE = "scrape", "Prometheus scrape target (its last scrape)"


class PingKind(models.TextChoices):
    SUCCESS = "success", "Success"
    START = "start", "Start"
    FAIL = "fail", "Fail"


# Config errors a kind names by these keys belong to the check's own fields.
SCHEDULE_FIELDS = ("period_seconds", "cron")
BOUNDED_FIELDS = ("interval_seconds", "timeout_seconds", "period_seconds", "grace_seconds")


def seconds_between(low: float, high: float) -> list:
    """Min/max validators with one message naming both ends (and the upper one in days)."""
    days = high / 86_400
    shown = f" ({days:g} days)" if days >= 2 and days == int(days) else ""
    message = f"Must be between {low:,g} and {high:,} seconds{shown}."
    return [MinValueValidator(low, message=message), MaxValueValidator(high, message=message)]


# What people configure on a check (admin form and API) and what the runner writes back.
CONFIG_FIELDS = (
    "service",
    "name",
    "kind",
    "config",
    "critical",
    "enabled",
    "interval_seconds",
    "timeout_seconds",
    "period_seconds",
    "cron",
    "grace_seconds",
)
STATE_FIELDS = (
    "last_ping_at",
    "last_start_at",
    "last_fail_at",
    "last_status",
    "last_checked_at",
    "last_message",
    "last_latency_ms",
    "next_run_at",
)


class HealthCheck(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.CASCADE, related_name="health_checks")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=CheckKind.choices)
    config = models.JSONField(default=dict, blank=True, help_text="Kind-specific settings; see the docs.")
    critical = models.BooleanField(default=False, help_text="Counts towards /health/ready and raises alerts.")
    enabled = models.BooleanField(default=True)
    interval_seconds = models.PositiveIntegerField(
        default=60, validators=seconds_between(MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS)
    )
    timeout_seconds = models.FloatField(
        default=5.0, validators=seconds_between(MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS)
    )
    # Heartbeat schedule: a fixed period or a cron expression (UTC), plus grace.
    period_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=seconds_between(1, MAX_PERIOD_SECONDS)
    )
    cron = models.CharField(max_length=100, blank=True)
    grace_seconds = models.PositiveIntegerField(default=300, validators=seconds_between(0, MAX_GRACE_SECONDS))
    last_ping_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_start_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_fail_at = models.DateTimeField(null=True, blank=True, editable=False)

    last_status = models.CharField(max_length=10, choices=HealthStatus.choices, blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_message = models.TextField(blank=True, editable=False)
    last_latency_ms = models.FloatField(null=True, blank=True, editable=False)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["service__name", "name"]
        permissions = [("run_healthcheck", "Can run a health check now")]

    def __str__(self) -> str:
        return f"{self.service.name}: {self.name}" if self.service_id else self.name

    @property
    def ping_path(self) -> str:
        return f"/ping/{self.uuid}"

    def config_errors(self) -> dict[str, str]:
        """What is wrong with the kind-specific settings, by config key ("url", "params.seconds")
        or by field ("period_seconds", "cron"); empty when valid. The one judgement the admin
        form, the API and the health-check page apply, each showing it where its fields are."""
        kind = KINDS.get(self.kind)
        if kind is None:
            return {}  # the kind field's choices refuse it
        if not isinstance(self.config, dict):
            return {"config": "must be a JSON object"}
        return kind.validate(self.config, self)

    def clean_fields(self, exclude=None):
        """Field validation plus `config_errors`, when the form edits `config` as JSON (the
        admin); a form that builds the config from its own fields maps the errors itself."""
        errors = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if not exclude or "config" not in exclude:
            failed = set(errors) | set(exclude or ())  # a field's own error (or absence) comes first
            for key, message in self.config_errors().items():
                field = key if key in SCHEDULE_FIELDS else "config"
                if field in failed:
                    continue
                shown = message[:1].upper() + message[1:] + "." if key in (field, "config") else f"{key}: {message}"
                errors.setdefault(field, []).append(ValidationError(shown, code="config"))
        if errors:
            raise ValidationError(errors)


class HealthCheckResult(models.Model):
    id = models.BigAutoField(primary_key=True)
    health_check = models.ForeignKey(HealthCheck, on_delete=models.CASCADE, related_name="results")
    status = models.CharField(max_length=10, choices=HealthStatus.choices)
    latency_ms = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["health_check", "-created_at"], name="mon_result_check_time"),
            models.Index(fields=["created_at"], name="mon_result_time"),
        ]

    def __str__(self) -> str:
        return f"{self.health_check_id} {self.status} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class HeartbeatPing(models.Model):
    id = models.BigAutoField(primary_key=True)
    health_check = models.ForeignKey(HealthCheck, on_delete=models.CASCADE, related_name="pings")
    kind = models.CharField(max_length=10, choices=PingKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True, help_text="The first 1,000 characters of a POSTed body.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["health_check", "-created_at"], name="mon_ping_check_time"),
            models.Index(fields=["-created_at", "-id"], name="mon_ping_newest"),  # the admin's list
        ]

    def __str__(self) -> str:
        return f"{self.health_check_id} {self.kind} @ {self.created_at:%Y-%m-%d %H:%M:%S}"
