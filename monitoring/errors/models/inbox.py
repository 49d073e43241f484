"""Events accepted by the ingest endpoint and waiting to be grouped (the inbox, like Relay's queue)."""

from django.db import models

from monitoring.errors.models.groups import CULPRIT_MAX, RELEASE_MAX, TITLE_MAX, Level


class ErrorInbox(models.Model):
    """One event, already checked, bounded, scrubbed and fingerprinted on the request
    (store.events_prepare), waiting for the drain (inbox.py) to group and store it in bulk.

    It holds the event in ErrorEvent's own columns, so the drain copies an event into
    ErrorEvent with one INSERT … SELECT inside the database: the large JSON parts (the stack,
    the request) are written once, on the request, and never decoded or encoded again. The drain
    itself reads only the small columns (fingerprint, title, level, …) to group the events.

    A drain claims rows by writing its `claim` token and `claimed_at` in one conditional UPDATE;
    rows of a drain that died become claimable again after inbox.CLAIM_TIMEOUT. `attempts` counts
    the claims, so an event that keeps killing the drain is dropped instead of retried forever."""

    service = models.ForeignKey("portal.Service", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=32)
    time = models.DateTimeField(help_text="When it happened (the SDK's timestamp, bounded).")
    received_at = models.DateTimeField()
    # The grouping results (fingerprint.py): "" for a row that was not prepared, which the drain drops.
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    title = models.CharField(max_length=TITLE_MAX, blank=True, default="")
    culprit = models.CharField(max_length=CULPRIT_MAX, blank=True, default="")
    user_hash = models.CharField(max_length=32, blank=True, default="")
    # ErrorEvent's columns, already scrubbed and bounded.
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.ERROR)
    message = models.TextField(blank=True, default="")
    platform = models.CharField(max_length=32, blank=True, default="")
    logger = models.CharField(max_length=128, blank=True, default="")
    transaction = models.CharField(max_length=200, blank=True, default="")
    server_name = models.CharField(max_length=128, blank=True, default="")
    release = models.CharField(max_length=RELEASE_MAX, blank=True, default="")
    environment = models.CharField(max_length=64, blank=True, default="")
    tags = models.JSONField(default=dict, blank=True)
    user = models.JSONField(default=dict, blank=True)
    request = models.JSONField(default=dict, blank=True)
    exception = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            # The drain looks for unclaimed (or stale) rows, oldest first, and re-reads its claim.
            models.Index(fields=["claimed_at", "id"], name="errors_inbox_claimable"),
            models.Index(fields=["claim"], name="errors_inbox_claim"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} (service {self.service_id})"
