"""Metric storage: raw samples, minute and hour rollups, counter totals, ingest idempotency.

Raw samples are written by raw SQL (`monitoring.ingest.samples_write`), never through model
instances: this module only defines the tables. Every series is identified by
(service, name, labels_hash); `labels_hash` digests the canonical JSON of the labels
(`monitoring.labels`), so grouping never compares JSON documents.
"""

from django.db import models
from django.utils import timezone

from portal.models import Service


class MetricKind(models.TextChoices):
    COUNTER = "counter", "Counter"  # samples are increments; sum over a window is the increase
    GAUGE = "gauge", "Gauge"  # samples are readings
    HISTOGRAM = "histogram", "Histogram"  # samples are observations
    TIMER = "timer", "Timer"  # observations in seconds


class Metric(models.Model):
    """What a metric name means. Created on first ingest; the first kind seen wins."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=MetricKind.choices, default=MetricKind.GAUGE)
    help = models.CharField(max_length=300, blank=True)
    unit = models.CharField(max_length=30, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MetricSample(models.Model):
    id = models.BigAutoField(primary_key=True)
    # No index of its own: each index costs ingest speed, and deleting a service is rare.
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=200)
    labels = models.JSONField(default=dict, blank=True)
    labels_hash = models.CharField(max_length=16)
    value = models.FloatField()
    time = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["name", "time"], name="mon_sample_name_time"),
            models.Index(fields=["time"], name="mon_sample_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name}{self.labels} = {self.value} @ {self.time:%Y-%m-%d %H:%M:%S}"


class Rollup(models.Model):
    """One series over one period: count/sum/min/max/last plus a serialized DDSketch."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    labels = models.JSONField(default=dict, blank=True)
    labels_hash = models.CharField(max_length=16)
    start = models.DateTimeField()
    count = models.BigIntegerField()
    sum = models.FloatField()
    min = models.FloatField()
    max = models.FloatField()
    last = models.FloatField(help_text="The value of the latest sample in the period.")
    sketch = models.BinaryField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name}{self.labels} @ {self.start:%Y-%m-%d %H:%M}"


class MinuteRollup(Rollup):
    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "name", "labels_hash", "start"], name="mon_minute_series_start")
        ]
        indexes = [
            models.Index(fields=["name", "start"], name="mon_minute_name_start"),
            models.Index(fields=["start"], name="mon_minute_start"),
        ]


class HourRollup(Rollup):
    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "name", "labels_hash", "start"], name="mon_hour_series_start")
        ]
        indexes = [
            models.Index(fields=["name", "start"], name="mon_hour_name_start"),
            models.Index(fields=["start"], name="mon_hour_start"),
        ]


class RollupState(models.Model):
    """How far minute rollups are complete, and the claim of the run computing more.

    `rolled_until`: every minute before it is rolled up. `dirty_since`: a sample arrived late,
    for a minute already rolled (or being rolled); the next rollup run restarts there. Readers
    treat min(rolled_until, dirty_since) as the end of trustworthy rollups and read raw after it.

    `claimed_until` is the furthest minute any run has rolled or is rolling: a sample before it
    marks `dirty_since`, because its minute's rollup may be computed without it. Writers compare
    with this, not `rolled_until`, so a sample committing while its minute is scanned is not lost.
    `claimed_at` is the running job's lease and token (None when no run holds the claim).
    `totals_until`: MetricTotal holds every minute rollup before it (`monitoring.totals`).
    """

    key = models.CharField(max_length=20, unique=True)
    rolled_until = models.DateTimeField(null=True, blank=True)
    dirty_since = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    totals_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key} rolled until {self.rolled_until}"


class MetricTotal(models.Model):
    """Count and sum of every minute rollup of a series before `RollupState.totals_until`.

    Kept by the rollup job, in the transaction that writes those rollups, for every series that is
    not a gauge (`monitoring.totals`): /metrics reads these plus a short tail instead of every
    hour rollup, and pruning deletes rollups without touching them, so counters never go down.
    """

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    labels = models.JSONField(default=dict, blank=True)
    labels_hash = models.CharField(max_length=16)
    count = models.FloatField(default=0)
    sum = models.FloatField(default=0)
    until = models.DateTimeField(help_text="When the totals last changed, they covered every minute before this.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "name", "labels_hash"], name="mon_total_series")]

    def __str__(self) -> str:
        return f"{self.name}{self.labels} total {self.sum}"


class IngestBatch(models.Model):
    """An accepted ingest batch with an Idempotency-Key: a retry of it writes nothing."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    samples = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "key"], name="mon_ingest_service_key")]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.key}"
