"""The inbox between the Sentry ingest endpoint and the grouping, as Relay and GlitchTip split it.

The request authenticates, checks limits, parses, normalizes and scrubs (store.events_prepare),
then writes the prepared events with ONE insert (`inbox_add`) and answers. Grouping and storing
(store.events_store_prepared: ~10 queries, the same for 1 event or 500) runs off the request path,
in bulk: `inbox_drain` claims rows with a conditional UPDATE, so two drains never take one row,
stores them per service and deletes them. A drain is queued after each accepted envelope, at most
one pending per cache (`inbox_wake`), and a per-minute sweep (schedules.py) drains whatever a lost
wake-up left. Rows a crashed drain claimed are claimable again after CLAIM_TIMEOUT; storing is
idempotent on event_id, so a retried row is never counted twice.

Maxima: DRAIN_BATCH rows per claim, DRAIN_MAX_BATCHES claims per drain run (the sweep takes the
rest), MAX_ATTEMPTS claims of one row before it is dropped (logged).
"""

import json
import logging
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from monitoring.errors.models import ErrorInbox
from monitoring.errors.store import DUPLICATE, STORED, event_data, events_store_prepared
from portal.lib.surrogates import text_repaired
from portal.models import Service

log = logging.getLogger(__name__)

DRAIN_BATCH = 500  # at most store.MAX_EVENTS_PER_BATCH
DRAIN_MAX_BATCHES = 200
MAX_ATTEMPTS = 5
CLAIM_TIMEOUT = timedelta(minutes=5)
WAKE_KEY = "errors:inbox:drain-queued"
WAKE_TIMEOUT = 60  # seconds: a queued drain that never ran stops blocking new ones after this
_TEXT_COLUMNS = ("level", "message", "platform", "logger", "transaction", "server_name", "release", "environment")
_COLUMNS = (
    "service", "event_id", "time", "received_at", "fingerprint", "title", "culprit", "user_hash", *_TEXT_COLUMNS,
    "tags", "user", "request", "exception", "data", "claim", "claimed_at", "attempts",
)  # fmt: skip
# What the drain reads of a claimed row: the grouping needs these, never the large parts.
_SMALL = ("id", "service_id", "event_id", "time", "attempts", "fingerprint", "title", "culprit", "user_hash")
_SMALL += ("level", "release")


@dataclass
class DrainResult:
    claimed: int = 0
    stored: int = 0
    duplicate: int = 0
    dropped: int = 0
    batches: int = 0


# The JSON columns are encoded with orjson: the stack of a 30-frame event is ~15 KB of JSON, which
# the stdlib encoder took ~90 µs for (a tenth of an envelope's CPU), orjson ~8. What orjson does
# not write (integers beyond 64 bits, lone surrogates, nesting over 255 levels) falls back to the
# stdlib encoder. NaN and ±Infinity, which JSON has no word for, are written as null; a lone
# surrogate, which is no Unicode text (PostgreSQL's jsonb refuses it), as U+FFFD.
_STDLIB_JSON = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode


def _json_text(value) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError
        return _STDLIB_JSON(_storable(value))


def _storable(value):
    """`value` with NaN and ±Infinity as None, as orjson writes them (the stdlib would write `NaN`,
    which is no JSON: the database refuses it), and lone surrogates as U+FFFD."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is str:
        return text_repaired(value)
    if kind is dict:
        return {text_repaired(k) if type(k) is str else k: _storable(item) for k, item in value.items()}
    if kind is list:
        return [_storable(item) for item in value]
    return value


def _json_adapter(db):
    """value -> the parameter the backend stores in a JSON column, as ops.adapt_json_value makes
    it (text on SQLite, Jsonb on PostgreSQL), with _json_text as the encoder."""
    if db.vendor == "postgresql":
        from django.db.backends.postgresql.psycopg_any import Jsonb

        return lambda value: Jsonb(value, dumps=_json_text)
    if type(db.ops).adapt_json_value is BaseDatabaseOperations.adapt_json_value:
        return _json_text
    return lambda value: db.ops.adapt_json_value(value, None)


_SQL: dict[str, tuple[str, str]] = {}  # vendor -> (INSERT … (columns) VALUES, one row's marks)


def _insert_sql(db, rows: int) -> str:
    """The INSERT of `rows` inbox rows; its column list is built once per process and backend."""
    parts = _SQL.get(db.vendor)
    if parts is None:
        meta = ErrorInbox._meta
        names = ", ".join(db.ops.quote_name(meta.get_field(name).column) for name in _COLUMNS)
        parts = _SQL[db.vendor] = (
            f"INSERT INTO {meta.db_table} ({names}) VALUES ",  # noqa: S608 (names from the model)
            "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")",
        )
    return parts[0] + ", ".join([parts[1]] * rows)


def inbox_add(*, service_id: int, items: list[dict], now: datetime) -> None:
    """Prepared items (store.events_prepare) into the inbox: one INSERT for the whole envelope,
    the event in ErrorEvent's columns (the drain copies them over without decoding them).

    Written with a plain INSERT (values adapted by the backend as the ORM does): bulk_create
    built model instances and compiled the query on every request, ~1 ms of the endpoint's CPU.
    The statement is built once per process; the JSON columns are encoded with _json_text."""
    if not items:
        return
    db = connections[DEFAULT_DB_ALIAS]  # the proxy `connection` costs a thread-local lookup per use
    ops = db.ops
    adapt_json = _json_adapter(db)
    adapt_time = ops.adapt_datetimefield_value
    received = adapt_time(now)
    values = []
    for item in items:
        event = item["event"]
        values += (
            service_id,
            item["event_id"],
            adapt_time(item["time"]),
            received,
            item["fingerprint"],
            item["title"],
            item["culprit"],
            item["user_hash"],
            *[event[name] for name in _TEXT_COLUMNS],
            adapt_json(event["tags"]),
            adapt_json(event["user"]),
            adapt_json(event["request"]),
            adapt_json(event["exception"]["values"]),
            adapt_json(event_data(event)),
            "",
            None,
            0,
        )
    with db.cursor() as cursor:
        cursor.execute(_insert_sql(db, len(items)), values)


def inbox_wake() -> None:
    """Queue a drain unless one is already queued. Never fails the caller: the sweep drains later."""
    try:
        if cache.add(WAKE_KEY, 1, timeout=WAKE_TIMEOUT):
            async_task("monitoring.errors.tasks.inbox_drain", task_name="errors inbox drain")
    except Exception:
        log.exception("queueing the error inbox drain failed; the per-minute sweep will drain it")


def inbox_claim(*, now: datetime, limit: int = DRAIN_BATCH) -> tuple[str, list[dict]]:
    """Claim up to `limit` rows, oldest first: (claim token, the small columns of the rows this
    drain now owns, as dicts)."""
    token = uuid.uuid4().hex
    claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT)
    oldest = ErrorInbox.objects.filter(claimable).order_by("id").values("id")[:limit]
    # The condition is repeated outside the subquery: when two drains pick the same rows,
    # PostgreSQL re-checks it on the row the first one updated, so the second one skips it
    # (SQLite runs one writer at a time). Only rows carrying our token are ours.
    claimed = ErrorInbox.objects.filter(claimable, pk__in=oldest).update(
        claim=token, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return token, []
    return token, list(ErrorInbox.objects.filter(claim=token).order_by("id").values(*_SMALL))


def _prepared(row: dict) -> dict:
    """The item store.events_store_prepared groups and stores: the event itself stays in its row."""
    if not row["fingerprint"]:
        raise ValueError("not a prepared event")
    return {**row, "inbox_id": row["id"]}


def inbox_drain(*, now: datetime | None = None, batch: int = DRAIN_BATCH, max_batches: int = DRAIN_MAX_BATCHES):
    """Group and store what the inbox holds, `batch` rows per claim, until it is empty."""
    result = DrainResult()
    for _ in range(max_batches):
        claimed = _drain_batch(now=now or timezone.now(), limit=batch, result=result)
        if claimed < batch:
            break
    return result


def _drain_batch(*, now: datetime, limit: int, result: DrainResult) -> int:
    token, rows = inbox_claim(now=now, limit=limit)
    if not rows:
        return 0
    result.batches += 1
    result.claimed += len(rows)
    per_service: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        try:
            if row["attempts"] > MAX_ATTEMPTS:
                raise ValueError(f"claimed {MAX_ATTEMPTS} times without being stored")
            per_service[row["service_id"]].append(_prepared(row))
        except ValueError as exc:
            log.error("error inbox: event %s of service %s dropped: %s", row["event_id"], row["service_id"], exc)
            result.dropped += 1
    services = Service.objects.in_bulk(list(per_service))
    for service_id, items in per_service.items():
        service = services.get(service_id)
        if service is None:  # deleted meanwhile (its rows go with it)
            result.dropped += len(items)
            continue
        _store(service, items, now=now, result=result)
    ErrorInbox.objects.filter(claim=token).delete()
    return len(rows)


def _store(service, items: list[dict], *, now: datetime, result: DrainResult) -> None:
    try:
        with transaction.atomic():
            _count(events_store_prepared(service=service, items=items, now=now), result)
        return
    except Exception:
        log.exception("error inbox: a batch of %d events of %s failed; storing them one by one", len(items), service)
    # One bad event must not keep the others out: each alone, in its own savepoint.
    for item in items:
        try:
            with transaction.atomic():
                _count(events_store_prepared(service=service, items=[item], now=now), result)
        except Exception:
            log.exception("error inbox: event %s of %s dropped", item.get("event_id"), service)
            result.dropped += 1


def _count(stored, result: DrainResult) -> None:
    for outcome in stored.outcomes:
        if outcome.status == STORED:
            result.stored += 1
        elif outcome.status == DUPLICATE:
            result.duplicate += 1
        else:
            result.dropped += 1
