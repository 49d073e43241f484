"""The one write path for samples: the ingest API and the in-process flusher both end here.

Samples are validated with plain code and inserted with one `executemany` of raw SQL: no model
instances and no serializer per sample (bench/metrics_ingest.py measures why).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from monitoring.labels import MetricError, check_name, check_value, labels_checked_key
from monitoring.models import IngestBatch, Metric, MetricKind, MetricSample, RollupState
from monitoring.query import ROLLUP_LOCK_KEY, ROLLUP_STATE_KEY, floor_minute
from portal.lib.idempotency import once_per_key
from portal.lib.rows import FieldError, ItemError, TableWriter, parse_time, sqlite_time
from portal.models import Service

MAX_FUTURE = timedelta(minutes=5)
# A counter sample is an increment; a negative one would make rates and totals go backwards.
NEGATIVE_INCREMENT = "a counter increment cannot be negative"
KINDS = frozenset(MetricKind.values)

# A row as written: (service_id, name, canonical labels JSON, labels hash, value, aware UTC time).
Row = tuple[int, str, str, str, float, datetime]


class IngestInvalid(Exception):
    def __init__(self, errors: list[ItemError]):
        super().__init__(f"{len(errors)} invalid sample(s)")
        self.errors = errors


@dataclass(frozen=True)
class IngestOutcome:
    accepted: int
    duplicate: bool = False


def time_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Accepted sample times: within the raw retention, and at most 5 minutes ahead."""
    return now - timedelta(days=settings.METRICS_RAW_RETENTION_DAYS), now + MAX_FUTURE


def sample_row(item, *, service_id: int, now: datetime, bounds=None) -> tuple[Row, str | None]:
    """One API item -> (row, declared kind or None). Raises MetricError naming the field."""
    if type(item) is not dict:
        raise MetricError("sample", "must be an object")
    name = check_name(item.get("name"))
    if "value" not in item:
        raise MetricError("value", "is required")
    value = check_value(item["value"])
    _, canonical, digest = labels_checked_key(item.get("labels"))
    kind = item.get("type")
    if kind is not None and kind not in KINDS:
        raise MetricError("type", f"must be one of {', '.join(sorted(KINDS))}")
    if kind == MetricKind.COUNTER and value < 0:
        raise MetricError("value", NEGATIVE_INCREMENT)
    try:
        moment = parse_time(item.get("time"), now=now)
    except FieldError as exc:
        raise MetricError(exc.field, exc.message) from exc
    oldest, newest = bounds or time_bounds(now)
    if moment > newest:
        raise MetricError("time", "is more than 5 minutes in the future")
    if moment < oldest:
        raise MetricError("time", "is older than the raw retention period")
    return (service_id, name, canonical, digest, value, moment), kind


def metric_kinds(declared: dict[str, str | None], helps: dict[str, str] | None = None) -> dict[str, str]:
    """The stored kind of each name, registering new names with their declared kind (or gauge).

    Read for every batch, not cached per process: a metric deleted or re-kinded in the admin (of
    another process) counts from the next batch on. One indexed query per batch, what checking a
    cache's version stamp would cost too (bench/metrics_ingest.py)."""
    found = dict(Metric.objects.filter(name__in=list(declared)).values_list("name", "kind"))
    helps = helps or {}
    new = [
        Metric(name=n, kind=declared[n] or MetricKind.GAUGE, help=helps.get(n, "")[:300])
        for n in declared
        if n not in found
    ]
    if new:
        Metric.objects.bulk_create(new, ignore_conflicts=True)
        # Another process may have registered some of these first: read back who won.
        found.update(Metric.objects.filter(name__in=[m.name for m in new]).values_list("name", "kind"))
    # A name deleted again between the insert and the read-back keeps its declared kind.
    return {name: found.get(name) or declared[name] or MetricKind.GAUGE for name in declared}


def rows_validate(items, *, service_id: int, now: datetime) -> list[Row]:
    """Validate every item; raise IngestInvalid listing all bad ones (nothing is written)."""
    rows: list[Row] = []
    declared: dict[str, str | None] = {}
    errors: list[ItemError] = []
    bounds = time_bounds(now)
    for index, item in enumerate(items):
        try:
            row, kind = sample_row(item, service_id=service_id, now=now, bounds=bounds)
        except MetricError as exc:
            errors.append(ItemError(index, exc.field, exc.message))
            continue
        rows.append(row)
        if declared.get(row[1]) is None:
            declared[row[1]] = kind
    if errors:
        raise IngestInvalid(errors)
    kinds = metric_kinds(declared)
    for index, (item, row) in enumerate(zip(items, rows, strict=True)):
        kind, stored = item.get("type"), kinds[row[1]]
        if kind and stored != kind:
            errors.append(ItemError(index, "type", f"{row[1]} is stored as a {stored}"))
        elif stored == MetricKind.COUNTER and row[4] < 0:
            errors.append(ItemError(index, "value", NEGATIVE_INCREMENT))
    if errors:
        raise IngestInvalid(errors)
    return rows


COLUMNS = ("service_id", "name", "labels", "labels_hash", "value", "time")
WRITER = TableWriter(
    MetricSample._meta.db_table,
    COLUMNS,
    time_column="time",
    sqlite_rows=lambda rows: [(s, n, labels, digest, v, sqlite_time(t)) for s, n, labels, digest, v, t in rows],
)
# The names the benchmarks (bench/pages.py, metrics_query.py, metrics_ingest.py) write with.
_sqlite_time = sqlite_time


def _copy_sql() -> str:
    return WRITER.copy_sql(connection)


def _insert_sql() -> str:
    return WRITER.insert_sql(connection)


def samples_write(rows: list[Row]) -> int:
    """Insert rows as they are (already validated): one executemany (COPY on PostgreSQL), plus
    one conditional UPDATE so samples for already rolled-up minutes get rolled up again."""
    if not rows:
        return 0
    # Rollups are per whole minute: the minute of the earliest sample is the one to redo.
    earliest = floor_minute(min(row[5] for row in rows))
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        WRITER.write(rows, cursor=cursor)
        if connection.vendor == "postgresql":
            # Held until commit: a rollup claiming its window waits for this write, so either
            # the claim is visible to the UPDATE below or these rows are visible to its scan.
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [ROLLUP_LOCK_KEY])
        # claimed_until, not rolled_until: a minute being rolled up right now must be redone too.
        RollupState.objects.filter(key=ROLLUP_STATE_KEY, claimed_until__gt=earliest).filter(
            Q(dirty_since__isnull=True) | Q(dirty_since__gt=earliest)
        ).update(dirty_since=earliest)
    return len(rows)


def metrics_ingest(*, service: Service, items, idempotency_key: str = "", now: datetime | None = None) -> IngestOutcome:
    """Validate and store a batch all-or-nothing. With an idempotency key, a batch already
    accepted for this service returns its outcome again and writes nothing."""
    now = now or timezone.now()
    if not isinstance(items, list):
        raise IngestInvalid([ItemError(0, "samples", "must be a list")])
    if len(items) > settings.METRICS_INGEST_MAX_BATCH:
        raise IngestInvalid([ItemError(0, "samples", f"at most {settings.METRICS_INGEST_MAX_BATCH} per batch")])
    rows = rows_validate(items, service_id=service.pk, now=now)
    recorded = once_per_key(
        model=IngestBatch,
        service=service,
        key=idempotency_key,
        count_field="samples",
        now=now,
        write=lambda: samples_write(rows),
    )
    return IngestOutcome(accepted=recorded.count, duplicate=recorded.duplicate)
