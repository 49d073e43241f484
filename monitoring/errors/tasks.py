"""django-q2 entry points for errors."""

from dataclasses import asdict

from monitoring.errors.retention import events_prune


def prune() -> dict:
    return asdict(events_prune())
