"""Hour rollups of usage events per (service, name): the figures long ranges are read from.

The fold job is incremental by event id, not by time: every run folds the events stored since
the last one (ids above `RollupState.folded_id`) into the hours they belong to, merging with the
hour rows already there (counts add, min/max compare, DDSketches merge). A late event, sent
hours after it happened, is simply a new id folded into its old hour; no hour is ever rebuilt.

Ids are only a safe watermark if no event below the highest committed id is still in flight:
on PostgreSQL writers hold a shared advisory lock while inserting (analytics.store.events_write)
and the job takes it exclusively to read the highest id; SQLite runs one writer at a time anyway.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from analytics.models import EventBatch, FeatureHourRollup, RollupState, UsageEvent
from analytics.store import EVENTS_LOCK_KEY
from monitoring.sketches import sketch_dumps, sketch_from_values, sketch_merge_packed
from portal.lib.bulk import IN_CHUNK, chunks

STATE_KEY = "hour"
LEASE = timedelta(minutes=15)
CHUNK = 20_000  # events read and folded per transaction
MAX_EVENTS_PER_RUN = 500_000  # the rest waits for the next run (a minute later)
# Error types kept per hour row: the most frequent; rarer ones of a busy hour are dropped.
TOP_ERROR_TYPES = 20
IDEMPOTENCY_KEYS_KEPT = timedelta(days=1)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class HourAcc:
    """One (service, name, hour) being folded."""

    count: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)
    error_types: Counter = field(default_factory=Counter)

    def add(self, success: bool, duration: float | None, error_type: str) -> None:
        self.count += 1
        if not success:
            self.errors += 1
        if duration is not None:
            self.durations.append(duration)
        if error_type:
            self.error_types[error_type] += 1


def committed_max_id() -> int:
    """The highest event id below which every event is committed (see module docstring)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVENTS_LOCK_KEY])
        return UsageEvent.objects.aggregate(m=Max("id"))["m"] or 0


def _claim(now: datetime) -> int | None:
    """Take the lease (None: another run holds it); returns the folded id to start from."""
    RollupState.objects.get_or_create(key=STATE_KEY)
    taken = RollupState.objects.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now), key=STATE_KEY).update(
        lease_until=now + LEASE
    )
    if not taken:
        return None
    return RollupState.objects.filter(key=STATE_KEY).values_list("folded_id", flat=True).get()


def _merged(existing: FeatureHourRollup | None, key: tuple, acc: HourAcc) -> FeatureHourRollup:
    service_id, name, hour = key
    row = existing or FeatureHourRollup(service_id=service_id, name=name, hour=hour)
    row.count += acc.count
    row.errors += acc.errors
    if acc.durations:
        fresh = sketch_from_values(acc.durations)
        old = bytes(row.sketch) if row.sketch else b""
        merged = sketch_merge_packed([old], extra=[fresh]) if old else fresh
        row.sketch = sketch_dumps(merged)
        row.duration_count += len(acc.durations)
        row.duration_sum += sum(acc.durations)
        low, high = min(acc.durations), max(acc.durations)
        row.duration_min = low if row.duration_min is None else min(row.duration_min, low)
        row.duration_max = high if row.duration_max is None else max(row.duration_max, high)
    if acc.error_types:
        types = Counter(row.error_types or {}) + acc.error_types
        row.error_types = dict(types.most_common(TOP_ERROR_TYPES))
    return row


def _fold(accs: dict[tuple, HourAcc], folded_to: int, now: datetime) -> bool:
    """Merge the accumulated hours into their rows and move the watermark, in one transaction.
    False when the lease was lost (another run took over): nothing is written then."""
    with transaction.atomic():
        state = RollupState.objects.select_for_update().get(key=STATE_KEY)
        if state.lease_until is None or state.lease_until <= now:
            return False
        hours = sorted({k[2] for k in accs})
        existing = {}
        for names in chunks(sorted({k[1] for k in accs}), max(100, IN_CHUNK - len(hours))):
            for r in FeatureHourRollup.objects.filter(hour__in=hours, name__in=names):
                if (r.service_id, r.name, r.hour) in accs:
                    existing[(r.service_id, r.name, r.hour)] = r
        rows = [_merged(existing.get(key), key, acc) for key, acc in accs.items()]
        FeatureHourRollup.objects.filter(pk__in=[r.pk for r in existing.values()]).delete()
        for row in rows:
            row.pk = None
        FeatureHourRollup.objects.bulk_create(rows)
        RollupState.objects.filter(pk=state.pk).update(folded_id=folded_to)
    return True


def rollup_run(*, now: datetime | None = None) -> dict:
    """Fold the events stored since the last run into hour rollups (at most MAX_EVENTS_PER_RUN).
    Safe to run concurrently (one holds the lease) and again."""
    now = now or timezone.now()
    start = _claim(now)
    if start is None:
        return {"events": 0, "busy": True}
    folded, total = start, 0
    try:
        upper = committed_max_id()
        while folded < upper and total < MAX_EVENTS_PER_RUN:
            chunk = list(
                UsageEvent.objects.filter(id__gt=folded, id__lte=upper)
                .order_by("id")
                .values_list("id", "service_id", "name", "time", "success", "duration_ms", "error_type")[:CHUNK]
            )
            if not chunk:
                break
            accs: dict[tuple, HourAcc] = {}
            for _, service_id, name, moment, success, duration, error_type in chunk:
                key = (service_id, name, floor_hour(moment))
                acc = accs.get(key)
                if acc is None:
                    acc = accs[key] = HourAcc()
                acc.add(success, duration, error_type)
            if not _fold(accs, chunk[-1][0], now):
                return {"events": total, "raced": True}
            folded, total = chunk[-1][0], total + len(chunk)
    finally:
        RollupState.objects.filter(key=STATE_KEY, lease_until=now + LEASE).update(lease_until=None)
    return {"events": total, "folded_id": folded}


def folded_id() -> int:
    return RollupState.objects.filter(key=STATE_KEY).values_list("folded_id", flat=True).first() or 0


def prune_run(*, now: datetime | None = None, max_batches: int = 50) -> dict:
    """Delete raw events older than ANALYTICS_EVENT_RETENTION_DAYS, in batches of
    ANALYTICS_PRUNE_BATCH (one short transaction each), only once folded: the hour rollups keep
    their figures. Idempotency keys go after a day."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS)
    batch = settings.ANALYTICS_PRUNE_BATCH
    limit = folded_id()
    deleted = 0
    for _ in range(max_batches):
        # The oldest first, by the time index; one bounded DELETE (its own transaction) each.
        oldest = UsageEvent.objects.filter(time__lt=cutoff, id__lte=limit).order_by("time").values("id")[:batch]
        count, _ = UsageEvent.objects.filter(id__in=oldest).delete()
        deleted += count
        if count < batch:
            break
    keys, _ = EventBatch.objects.filter(created_at__lt=now - IDEMPOTENCY_KEYS_KEPT).delete()
    return {"events": deleted, "idempotency_keys": keys}
