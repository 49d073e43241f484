"""Stored behaviour analysis results (analytics.behaviour): one row per service, kind, period and
parameters. The daily job writes the standard windows; a result computed on demand for a period
that has ended is kept too, so asking again reads it instead of scanning the events again."""

from django.db import models

from portal.models import Service


class BehaviourResult(models.Model):
    class Kind(models.TextChoices):
        PATHS = "paths"  # paths, next steps and recommendations: one pass over the sessions
        FUNNEL = "funnel"
        RETENTION = "retention"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    # sha256 of the canonical JSON of `params`: the lookup key for "the same question".
    params_hash = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    data = models.JSONField(default=dict)
    events = models.BigIntegerField(default=0)  # events read to compute it
    computed_at = models.DateTimeField()
    seconds = models.FloatField(default=0)  # how long the computation took

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "kind", "params_hash", "period_start", "period_end"], name="analytics_behaviour_key"
            )
        ]
        indexes = [
            # "The latest stored result for this question": the pages' default.
            models.Index(fields=["service", "kind", "params_hash", "period_end"], name="analytics_behaviour_latest")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.service_id} {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d}"
