"""Health checks, their results and heartbeat pings.

A check's `last_*` columns are a denormalized copy of its latest result, so lists and the
readiness endpoint read one row per check; `next_run_at` is the due-at column the sweep claims.
"""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from monitoring.healthchecks import status as health
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


class PingKind(models.TextChoices):
    SUCCESS = "success", "Success"
    START = "start", "Start"
    FAIL = "fail", "Fail"


# Bounds of what people and the API may set, said once here: the model validators serve the admin
# form and the API alike. Past them nothing is useful and date arithmetic in the sweep overflows
# (an interval of 10**12 s stopped every check from being claimed again).
MIN_INTERVAL_SECONDS = 60  # the sweep runs once a minute: a shorter interval would not run more often
MAX_INTERVAL_SECONDS = 86_400  # a check run less than daily tells nobody anything in time
MIN_TIMEOUT_SECONDS = 0.1
MAX_TIMEOUT_SECONDS = 60  # a check runs in a worker thread; longer holds a worker for nothing
MAX_PERIOD_SECONDS = 366 * 86_400  # a heartbeat of a yearly job
MAX_GRACE_SECONDS = 31 * 86_400
MAX_DEGRADED_MS = MAX_TIMEOUT_SECONDS * 1000  # slower than the timeout is a failure, not a degradation
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
