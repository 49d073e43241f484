"""Models of the analytics app: raw usage events (the rollups and stored analysis results live
beside them as they are added).

`UsageEvent` is written only through `analytics.store` (the one write path shared by the ingest
API and the in-process tracker's database sink), never one model instance at a time.
"""

from django.db import models

from portal.models import Service


class UsageEvent(models.Model):
    class Kind(models.TextChoices):
        FEATURE = "feature"
        API_CALL = "api_call", "API call"
        ERROR = "error"
        CUSTOM = "custom"

    id = models.BigAutoField(primary_key=True)
    time = models.DateTimeField()
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    # Optional id the sender gives an event: a retried event with the same id is not stored twice.
    event_id = models.CharField(max_length=64, blank=True, default="")
    session_id = models.CharField(max_length=64, blank=True, default="")
    # Opaque: the portal never learns who a user is, only that two events share one.
    user_id = models.CharField(max_length=128, blank=True, default="")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FEATURE)
    name = models.CharField(max_length=200)
    duration_ms = models.FloatField(null=True, blank=True)
    success = models.BooleanField(default=True)
    error_type = models.CharField(max_length=200, blank=True, default="")
    memory_delta_bytes = models.BigIntegerField(null=True, blank=True)
    cpu_time_ms = models.FloatField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "event_id"], name="analytics_event_id", condition=~models.Q(event_id="")
            )
        ]
        indexes = [
            # Per-feature figures over a time range, and the rollup job's scan.
            models.Index(fields=["service", "name", "time"], name="analytics_event_feature"),
            # Retention pruning and "everything in a range".
            models.Index(fields=["time"], name="analytics_event_time"),
            # Behaviour analysis streams each service's sessions in time order.
            models.Index(fields=["service", "session_id", "time"], name="analytics_event_session"),
            # Retention cohorts: a user's first use.
            models.Index(fields=["service", "user_id", "time"], name="analytics_event_user"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.time:%Y-%m-%d %H:%M:%S}"
