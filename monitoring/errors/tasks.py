"""django-q2 entry points for errors."""

from dataclasses import asdict

from django.core.cache import cache

from monitoring.errors import inbox
from monitoring.errors.retention import events_prune


def prune() -> dict:
    return asdict(events_prune())


def inbox_drain() -> dict:
    # Cleared first: an envelope accepted while this runs queues the next drain, none is lost.
    cache.delete(inbox.WAKE_KEY)
    return asdict(inbox.inbox_drain())
