"""Idempotency-Key handling of the batch ingest endpoints (metrics, usage events).

A batch accepted with a key is recorded as a row of a small model with `service`, `key`,
`created_at` and a count field, unique on (service, key). A retry with the same key answers the
first outcome again and writes nothing; the unique constraint decides between two concurrent
retries (the loser's transaction, batch included, rolls back).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Model

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Recorded:
    count: int
    duplicate: bool


def _previous(model: type[Model], service, key: str, count_field: str) -> int | None:
    return model.objects.filter(service=service, key=key).values_list(count_field, flat=True).first()


def once_per_key(
    *, model: type[Model], service, key: str, count_field: str, now: datetime, write: Callable[[], int]
) -> Recorded:
    """Run `write()` (which returns how many items it stored) in one transaction, at most once
    per (service, key). Without a key it always runs. IntegrityErrors that are not about the key
    propagate (the caller may retry them)."""
    if key:
        previous = _previous(model, service, key, count_field)
        if previous is not None:
            return Recorded(previous, True)
    try:
        with transaction.atomic():
            count = write()
            if key:
                model.objects.create(service=service, key=key, created_at=now, **{count_field: count})
    except IntegrityError:
        previous = _previous(model, service, key, count_field) if key else None
        if previous is None:
            raise
        return Recorded(previous, True)
    return Recorded(count, False)
