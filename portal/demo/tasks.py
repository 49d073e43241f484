"""django-q2 entry point of the demo's live samples (the schedule is created by
`portal_setup --demo` only)."""

from django.utils import timezone

from portal.demo.health import heartbeats_live
from portal.demo.metrics import live_write
from portal.demo.service import demo_service


def live_samples() -> dict:
    """The demo shop's latest samples and heartbeat pings; safe to run twice in a minute."""
    service = demo_service()
    if service is None:
        return {"skipped": "no demo service"}
    now = timezone.now()
    return {"samples": live_write(service=service, now=now), "pings": heartbeats_live(service=service, now=now)}
