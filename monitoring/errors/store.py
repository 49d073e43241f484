"""Storing error events: validate, scrub, group and save a batch in a bounded number of queries."""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class EventOutcome:
    """What happened to one event of a batch: stored, duplicate (same event_id seen before) or refused."""

    event_id: str
    status: str  # "stored" | "duplicate" | "refused"
    group_id: int | None = None
    reason: str = ""


@dataclass
class StoreResult:
    outcomes: list[EventOutcome] = field(default_factory=list)


def events_store(*, service, events: list[dict], now: datetime | None = None) -> "StoreResult":
    raise NotImplementedError
