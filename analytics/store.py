"""The one write path for usage events: the ingest API and the tracker's database sink end here.

Events are validated with plain code (no serializer or model instance per event) and written in
one COPY (PostgreSQL) or executemany (SQLite) through portal.lib.rows, the path metric samples
take too. A batch is all or nothing. Retries are no-ops twice over: a batch sent again with its
Idempotency-Key writes nothing, and an event whose `event_id` this service already stored is
skipped (counted in `skipped`, not an error), so a sender that lost the answer may resend freely.
"""

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from analytics.models import EventBatch, UsageEvent
from portal.lib.bulk import chunks
from portal.lib.idempotency import once_per_key
from portal.lib.rows import FieldError, ItemError, TableWriter, parse_time, sqlite_time
from portal.models import Service

MAX_FUTURE = timedelta(minutes=5)
# Bounds of the numbers a sender may give (documented in docs/analytics.md).
MAX_DURATION_MS = 30 * 86_400_000.0  # thirty days
MAX_MEMORY_DELTA_BYTES = 2**53  # exact in a float, far above any process
KINDS = frozenset(UsageEvent.Kind.values)
# field -> longest text accepted: the model's max_length, said once.
TEXT_FIELDS = {
    name: UsageEvent._meta.get_field(name).max_length
    for name in ("event_id", "session_id", "user_id", "name", "error_type")
}
FIELDS = frozenset(
    ("time", "kind", "duration_ms", "success", "memory_delta_bytes", "cpu_time_ms", "metadata", *TEXT_FIELDS)
)
# Writers hold this shared (PostgreSQL) while inserting; the fold job takes it exclusively to
# read the highest committed id, so no event below that id is still in flight (analytics.rollups).
EVENTS_LOCK_KEY = 0x616E615F65767473

COLUMNS = (
    "time",
    "service_id",
    "event_id",
    "session_id",
    "user_id",
    "kind",
    "name",
    "duration_ms",
    "success",
    "error_type",
    "memory_delta_bytes",
    "cpu_time_ms",
    "metadata",
)
WRITER = TableWriter(
    UsageEvent._meta.db_table,
    COLUMNS,
    time_column="time",
    sqlite_rows=lambda rows: [(sqlite_time(row[0]), *row[1:]) for row in rows],
)
_EVENT_ID = COLUMNS.index("event_id")


class EventsInvalid(Exception):
    def __init__(self, errors: list[ItemError]):
        super().__init__(f"{len(errors)} invalid event(s)")
        self.errors = errors


@dataclass(frozen=True)
class EventsOutcome:
    accepted: int  # events stored by this call (or by the first call with this Idempotency-Key)
    duplicate: bool = False  # the Idempotency-Key was already accepted: nothing written
    skipped: int = 0  # events whose event_id was already stored (or repeated in the batch)


def _text(item: dict, field: str) -> str:
    value = item.get(field)
    if value is None:
        return ""
    if type(value) is not str:
        raise FieldError(field, "must be a string")
    if len(value) > TEXT_FIELDS[field]:
        raise FieldError(field, f"at most {TEXT_FIELDS[field]} characters")
    if "\x00" in value:
        raise FieldError(field, "must not contain NUL characters")
    return value


def _number(item: dict, field: str, *, low: float, high: float) -> float | None:
    value = item.get(field)
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise FieldError(field, "must be a finite number")
    if not low <= value <= high:
        raise FieldError(field, f"must be between {low:g} and {high:g}")
    return float(value)


def _metadata(item: dict) -> str:
    value = item.get("metadata")
    if value is None:
        return "{}"
    if type(value) is not dict:
        raise FieldError("metadata", "must be an object")
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:  # only from the tracker's in-process callers
        raise FieldError("metadata", "must hold only JSON values (finite numbers)") from exc
    limit = settings.ANALYTICS_METADATA_MAX_BYTES
    if len(text.encode()) > limit:
        raise FieldError("metadata", f"at most {limit} bytes as JSON (ANALYTICS_METADATA_MAX_BYTES)")
    if "\\u0000" in text:  # PostgreSQL's jsonb refuses NUL in strings
        raise FieldError("metadata", "must not contain NUL characters")
    return text


def event_row(item, *, service_id: int, now: datetime, oldest: datetime) -> tuple:
    """One API item -> the row as written. Raises FieldError naming the field."""
    if type(item) is not dict:
        raise FieldError("event", "must be an object")
    unknown = item.keys() - FIELDS
    if unknown:
        raise FieldError(sorted(unknown)[0], "is not a field of an event")
    name = _text(item, "name")
    if not name:
        raise FieldError("name", "is required")
    kind = item.get("kind")
    if kind is None:
        kind = UsageEvent.Kind.FEATURE.value
    elif kind not in KINDS:
        raise FieldError("kind", f"must be one of {', '.join(sorted(KINDS))}")
    moment = parse_time(item.get("time"), now=now)
    if moment > now + MAX_FUTURE:
        raise FieldError("time", "is more than 5 minutes in the future")
    if moment < oldest:
        raise FieldError("time", "is older than the event retention (ANALYTICS_EVENT_RETENTION_DAYS)")
    error_type = _text(item, "error_type")
    success = item.get("success")
    if success is None:
        success = not error_type  # an event that names its error failed unless it says otherwise
    elif type(success) is not bool:
        raise FieldError("success", "must be true or false")
    memory = item.get("memory_delta_bytes")
    if memory is not None:
        if type(memory) is not int:
            raise FieldError("memory_delta_bytes", "must be an integer")
        if abs(memory) > MAX_MEMORY_DELTA_BYTES:
            raise FieldError(
                "memory_delta_bytes", f"must be between -{MAX_MEMORY_DELTA_BYTES} and {MAX_MEMORY_DELTA_BYTES}"
            )
    return (
        moment,
        service_id,
        _text(item, "event_id"),
        _text(item, "session_id"),
        _text(item, "user_id"),
        kind,
        name,
        _number(item, "duration_ms", low=0, high=MAX_DURATION_MS),
        success,
        error_type,
        memory,
        _number(item, "cpu_time_ms", low=0, high=MAX_DURATION_MS),
        _metadata(item),
    )


def events_validate(items, *, service_id: int, now: datetime) -> list[tuple]:
    """Every item checked; EventsInvalid lists all bad ones (and nothing is written)."""
    if not isinstance(items, list):
        raise EventsInvalid([ItemError(0, "events", "must be a list", prefix="events")])
    limit = settings.ANALYTICS_INGEST_MAX_BATCH
    if len(items) > limit:
        raise EventsInvalid(
            [ItemError(0, "events", f"at most {limit} per batch (ANALYTICS_INGEST_MAX_BATCH)", "events")]
        )
    oldest = now - timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS)
    rows, errors = [], []
    for index, item in enumerate(items):
        try:
            rows.append(event_row(item, service_id=service_id, now=now, oldest=oldest))
        except FieldError as exc:
            errors.append(ItemError(index, exc.field, exc.message, prefix="events"))
    if errors:
        raise EventsInvalid(errors)
    return rows


def _new_rows(rows: list[tuple], service_id: int) -> list[tuple]:
    """Rows whose event_id is neither stored for this service nor earlier in the batch."""
    ids = {row[_EVENT_ID] for row in rows if row[_EVENT_ID]}
    if not ids:
        return rows
    stored: set[str] = set()
    # The partial unique index serves this only when the database can tell the query implies its
    # condition: the exclude repeats it (SQLite needs that; PostgreSQL proves it from that clause
    # for IN lists of any length, where it proves it from the list itself only up to 100 values).
    # Without it SQLite scanned every event of the service. One IN list per 900 ids: ten lists
    # of 100 cost PostgreSQL three times as long (plans per query).
    for chunk in chunks(sorted(ids)):
        found = UsageEvent.objects.filter(service_id=service_id, event_id__in=chunk).exclude(event_id="")
        stored.update(found.values_list("event_id", flat=True))
    fresh = []
    for row in rows:
        event_id = row[_EVENT_ID]
        if event_id:
            if event_id in stored:
                continue
            stored.add(event_id)
        fresh.append(row)
    return fresh


def events_write(rows: list[tuple]) -> int:
    """Insert validated rows as they are; the caller owns the transaction."""
    if not rows:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Before the insert takes its ids: see EVENTS_LOCK_KEY.
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [EVENTS_LOCK_KEY])
        return WRITER.write(rows, cursor=cursor)


def events_insert(
    *, service: Service, items: list[dict], idempotency_key: str = "", now: datetime | None = None
) -> EventsOutcome:
    """Validate and store a batch of events for `service`, all or nothing (see module docstring).
    Raises EventsInvalid with per-item errors naming `events[i].field`."""
    now = now or timezone.now()
    rows = events_validate(items, service_id=service.pk, now=now)
    skipped = 0

    def write() -> int:
        nonlocal skipped
        fresh = _new_rows(rows, service.pk)
        skipped = len(rows) - len(fresh)
        return events_write(fresh)

    for attempt in range(2):
        try:
            with transaction.atomic():
                recorded = once_per_key(
                    model=EventBatch, service=service, key=idempotency_key, count_field="events", now=now, write=write
                )
            break
        except IntegrityError:
            # Another writer stored one of these event_ids between our check and our insert:
            # check again (its transaction has committed by now) and skip those.
            if attempt:
                raise
    if recorded.duplicate:
        return EventsOutcome(accepted=recorded.count, duplicate=True)
    return EventsOutcome(accepted=recorded.count, skipped=skipped)
