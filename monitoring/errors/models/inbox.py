"""Events accepted by the ingest endpoint and waiting to be grouped (the inbox, like Relay's queue)."""

from django.db import models


class ErrorInbox(models.Model):
    """One event, already checked, bounded, scrubbed and fingerprinted on the request
    (store.events_prepare), waiting for the drain (inbox.py) to group and store it in bulk.

    A drain claims rows by writing its `claim` token and `claimed_at` in one conditional UPDATE;
    rows of a drain that died become claimable again after inbox.CLAIM_TIMEOUT. `attempts` counts
    the claims, so an event that keeps killing the drain is dropped instead of retried forever."""

    service = models.ForeignKey("portal.Service", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=32)
    time = models.DateTimeField(help_text="When it happened (the SDK's timestamp, bounded).")
    received_at = models.DateTimeField()
    # The prepared event: {"event", "fingerprint", "title", "culprit", "user_hash"}.
    item = models.JSONField()
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
