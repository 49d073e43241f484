"""Error events: one occurrence, scrubbed and size-bounded before it is stored."""

from django.db import models
from django.utils import timezone

from monitoring.errors.models.groups import RELEASE_MAX, ErrorGroup, Level


class ErrorEvent(models.Model):
    """One event as the SDK sent it, after scrubbing (scrub.py) and trimming (store.py).

    `exception` keeps the chain as Sentry sends it (outermost last), each with its frames
    (filename, module, function, lineno, in_app, context lines, scrubbed vars)."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="events")
    # The service is repeated here so the idempotency key (service, event_id) is one unique index.
    service = models.ForeignKey("portal.Service", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=32, help_text="32 hex digits, from the SDK.")
    time = models.DateTimeField(default=timezone.now, help_text="When it happened (the SDK's timestamp).")
    received_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.ERROR)
    message = models.TextField(blank=True)
    platform = models.CharField(max_length=32, blank=True)
    logger = models.CharField(max_length=128, blank=True)
    transaction = models.CharField(max_length=200, blank=True)
    server_name = models.CharField(max_length=128, blank=True)
    release = models.CharField(max_length=RELEASE_MAX, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    user = models.JSONField(default=dict, blank=True)
    request = models.JSONField(default=dict, blank=True)
    exception = models.JSONField(default=list, blank=True)
    # contexts, extra, sdk, fingerprint and the last breadcrumbs.
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        constraints = [models.UniqueConstraint(fields=["service", "event_id"], name="errors_event_one_per_id")]
        indexes = [
            models.Index(fields=["group", "-time", "-id"], name="errors_event_group_time"),
            # Retention deletes the oldest first, in batches.
            models.Index(fields=["time", "id"], name="errors_event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} (#{self.group_id})"
