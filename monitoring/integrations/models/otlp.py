"""What POST /v1/metrics remembers between exports: the last cumulative value of each series.

OpenTelemetry SDKs export cumulative sums and histograms by default (the total since the
process started); the portal stores increments. The increment of an export is its value minus
the previous export's, so the previous value must survive the next request, whichever web
process serves it: a table, not a process cache.
"""

from django.db import models


class OtlpSeriesState(models.Model):
    """One cumulative series as last exported: a stored counter name and label set of a service."""

    service = models.ForeignKey("portal.Service", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    labels_hash = models.CharField(max_length=16)
    # The point's start_time_unix_nano: a new start means the process restarted (a reset).
    start_unix_nano = models.BigIntegerField()
    value = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "name", "labels_hash"], name="otlp_state_unique_series")
        ]
        indexes = [models.Index(fields=["updated_at"], name="otlp_state_updated")]

    def __str__(self) -> str:
        return f"{self.name} {self.labels_hash} = {self.value:g}"
