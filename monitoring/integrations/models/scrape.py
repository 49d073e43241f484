"""Prometheus exporters the portal scrapes (monitoring/integrations/scrape.py does the work)."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from monitoring.labels import MetricError, check_labels

MIN_INTERVAL = 15  # seconds: the sweep runs each minute; shorter would only be rounded up
MAX_INTERVAL = 86_400
MIN_TIMEOUT = 1
MAX_TIMEOUT = 60  # and below the interval: a scrape must end before the next one is due
DEFAULT_SERIES_LIMIT = 2_000
MAX_SERIES_LIMIT = 20_000


def url_validate(value):
    """http or https with a host. Not Django's URLValidator: it refuses hosts without a dot, and
    exporters are often reached by a bare container or host name (http://app:8000/metrics)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError as exc:
        raise ValidationError("must be a valid http or https URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValidationError("must be a valid http or https URL")


def labels_validate(value):
    try:
        check_labels(value)
    except MetricError as exc:
        raise ValidationError(exc.message) from exc


class ScrapeTarget(models.Model):
    service = models.ForeignKey("portal.Service", on_delete=models.CASCADE, related_name="scrape_targets")
    url = models.CharField(
        max_length=500,
        validators=[url_validate],
        help_text="The exporter's metrics URL (http or https), e.g. http://app:8000/metrics.",
    )
    interval_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text=f"Seconds between scrapes, {MIN_INTERVAL} to {MAX_INTERVAL}.",
    )
    timeout_seconds = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(MIN_TIMEOUT), MaxValueValidator(MAX_TIMEOUT)],
        help_text=f"Seconds a scrape may take, {MIN_TIMEOUT} to {MAX_TIMEOUT} and less than the interval.",
    )
    bearer_token = models.CharField(
        max_length=500, blank=True, help_text="Sent as `Authorization: Bearer <token>`; write-only."
    )
    labels = models.JSONField(
        default=dict, blank=True, validators=[labels_validate], help_text="Labels added to every scraped series."
    )
    enabled = models.BooleanField(default=True)
    series_limit = models.PositiveIntegerField(
        default=DEFAULT_SERIES_LIMIT,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SERIES_LIMIT)],
        help_text=f"Series kept per scrape, at most {MAX_SERIES_LIMIT}; the rest are refused and reported.",
    )
    # State, written by the sweep.
    next_scrape_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_scrape_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_samples = models.PositiveIntegerField(null=True, blank=True)
    last_refused_series = models.PositiveIntegerField(default=0)
    # Cumulative counter values of the previous scrape, per series key: increments are the differences.
    previous = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service_id", "url"]
        constraints = [models.UniqueConstraint(fields=["service", "url"], name="scrape_target_unique_url")]

    def __str__(self):
        return f"{self.service} ← {self.url}"

    @property
    def has_bearer_token(self) -> bool:
        return bool(self.bearer_token)

    def clean(self):
        if self.timeout_seconds and self.interval_seconds and self.timeout_seconds >= self.interval_seconds:
            raise ValidationError({"timeout_seconds": "must be less than the interval"})
