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


class EventBatch(models.Model):
    """An accepted event batch with an Idempotency-Key: a retry of it writes nothing (kept a day).

    Its own table rather than monitoring's IngestBatch: a key is per service *and* per endpoint
    (a client reusing one key for its metrics and its events must not lose either), and the two
    apps prune their keys on their own schedules."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    events = models.PositiveIntegerField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "key"], name="analytics_batch_service_key")]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.key}"


class FeatureHourRollup(models.Model):
    """Per (service, name) and UTC hour: the figures long ranges are computed from, kept after the
    raw events are pruned. Successes are `count - errors`; durations are of events that had one."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    hour = models.DateTimeField()
    count = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    duration_count = models.BigIntegerField(default=0)
    duration_sum = models.FloatField(default=0)
    duration_min = models.FloatField(null=True)
    duration_max = models.FloatField(null=True)
    # DDSketch of the durations (monitoring.sketches packed form); empty when none had one.
    sketch = models.BinaryField(default=b"")
    # error type -> count, the hour's most frequent ones (analytics.rollups.TOP_ERROR_TYPES).
    error_types = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "name", "hour"], name="analytics_hour_feature"),
        ]
        indexes = [models.Index(fields=["hour"], name="analytics_hour_time")]

    def __str__(self) -> str:
        return f"{self.name} @ {self.hour:%Y-%m-%d %H:00}"


class RollupState(models.Model):
    """The fold job's progress: every event with an id up to `folded_id` is in the hour rollups.
    `lease_until` is the claim of the run in progress (two workers never fold the same events)."""

    key = models.CharField(max_length=40, unique=True)
    folded_id = models.BigIntegerField(default=0)
    lease_until = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.key} folded to {self.folded_id}"


from analytics.models_behaviour import BehaviourResult  # noqa: E402, F401  (own module; Django finds models here)
