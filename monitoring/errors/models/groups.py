"""Error groups (one per service + fingerprint), their hourly counts, users and activity."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Field sizes, said once: store.py cuts incoming text to these.
TITLE_MAX = 300
CULPRIT_MAX = 300
RELEASE_MAX = 200


class Level(models.TextChoices):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"


class GroupStatus(models.TextChoices):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class ErrorGroup(models.Model):
    """Events of one service that share a fingerprint (see fingerprint.py).

    Counters are kept on the row (with F() updates) so lists never count events, and they survive
    the retention of events. `merged_into` points at the group that now receives this one's events."""

    service = models.ForeignKey("portal.Service", on_delete=models.CASCADE, related_name="error_groups")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the grouping parts.")
    title = models.CharField(max_length=TITLE_MAX)
    culprit = models.CharField(max_length=CULPRIT_MAX, blank=True, help_text="Where it happened: module.function.")
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.ERROR)
    status = models.CharField(max_length=10, choices=GroupStatus.choices, default=GroupStatus.UNRESOLVED)
    times_seen = models.PositiveBigIntegerField(default=0)
    users_affected = models.PositiveIntegerField(
        default=0, help_text="Distinct user ids seen, exact up to ERRORS_USERS_TRACKED per group."
    )
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    first_release = models.CharField(max_length=RELEASE_MAX, blank=True)
    last_release = models.CharField(max_length=RELEASE_MAX, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )

    class Meta:
        ordering = ["-last_seen", "-id"]
        permissions = [("change_status_errorgroup", "Can resolve, ignore, reopen and merge error groups")]
        constraints = [
            models.UniqueConstraint(fields=["service", "fingerprint"], name="errors_group_one_per_fingerprint")
        ]
        indexes = [
            # The list page: newest/most frequent/oldest, whole or per service and status.
            models.Index(fields=["-last_seen", "-id"], name="errors_group_last_seen"),
            models.Index(fields=["status", "-last_seen", "-id"], name="errors_group_status_seen"),
            models.Index(fields=["service", "status", "-last_seen", "-id"], name="errors_group_service_seen"),
            models.Index(fields=["-times_seen", "-id"], name="errors_group_count"),
            models.Index(fields=["-first_seen", "-id"], name="errors_group_first_seen"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class ErrorGroupHour(models.Model):
    """Events per group and UTC hour: the sparklines and 24h/14d counts, never a count of events."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="hours")
    hour = models.DateTimeField(help_text="Start of the hour, UTC.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "hour"], name="errors_hour_one_per_group")]
        indexes = [models.Index(fields=["hour"], name="errors_hour_hour")]

    def __str__(self) -> str:
        return f"#{self.group_id} {self.hour:%Y-%m-%d %H}:00 {self.count}"


class ErrorGroupUser(models.Model):
    """One row per distinct user of a group (a hash of the user's id, e-mail, username or IP),
    so users_affected is exact and never double-counts across batches or processes. Bounded per
    group by ERRORS_USERS_TRACKED: past it the count stops growing (shown as "N+")."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="users")
    user_hash = models.CharField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user_hash"], name="errors_user_one_per_group")]

    def __str__(self) -> str:
        return f"#{self.group_id} {self.user_hash}"


class ActivityKind(models.TextChoices):
    FIRST_SEEN = "first_seen", "first seen"
    RESOLVED = "resolved"
    IGNORED = "ignored"
    UNRESOLVED = "unresolved"
    REGRESSED = "regressed"
    MERGED = "merged"
    ALERTED = "alerted"


class ErrorGroupActivity(models.Model):
    """The audit trail of a group: status changes (by whom, through what), regressions, merges."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="activity")
    kind = models.CharField(max_length=12, choices=ActivityKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    via = models.CharField(max_length=20, blank=True, help_text="page, api, admin, ingest, …")
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "error group activity"
        indexes = [models.Index(fields=["group", "created_at", "id"], name="errors_activity_group")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.group_id} at {self.created_at:%Y-%m-%d %H:%M}"


OPEN_Q = Q(status=GroupStatus.UNRESOLVED)
