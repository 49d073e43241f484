"""Deleting old error events in bounded batches. Groups keep their counts (times_seen, hours)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from monitoring.errors.models import ErrorEvent, ErrorGroupHour

BATCH = 2000  # rows per DELETE: short write transactions, so ingest is never held up for long
MAX_BATCHES = 500  # per run; the next run (hourly) carries on


@dataclass
class RetentionReport:
    events: int = 0
    hours: int = 0
    batches: int = 0
    done: bool = True


def _delete_oldest(queryset, *, order: tuple[str, ...], batch: int) -> int:
    # DELETE … WHERE id IN (SELECT id … LIMIT n): portable across SQLite and PostgreSQL.
    ids = list(queryset.order_by(*order).values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    queryset.model.objects.filter(pk__in=ids).delete()
    return len(ids)


def events_prune(*, now: datetime | None = None, batch: int = BATCH, max_batches: int = MAX_BATCHES):
    """Delete events older than ERRORS_EVENT_RETENTION_DAYS, and hour buckets older than the
    same (sparklines show 14 days at most), `batch` rows per statement."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ERRORS_EVENT_RETENTION_DAYS)
    report = RetentionReport()
    # Oldest first, in the order of the time indexes, so each batch reads from the index.
    for model, attr, column in ((ErrorEvent, "events", "time"), (ErrorGroupHour, "hours", "hour")):
        old = model.objects.filter(**{f"{column}__lt": cutoff})
        while True:
            if report.batches >= max_batches:
                report.done = False
                return report
            deleted = _delete_oldest(old, order=(column, "pk"), batch=batch)
            if not deleted:
                break
            report.batches += 1
            setattr(report, attr, getattr(report, attr) + deleted)
    return report
