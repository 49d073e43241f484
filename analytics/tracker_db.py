"""The tracker inside the portal: events go straight to the database, recorded under the portal's
own service, through `analytics.store.events_insert` (the ingest API's write path).

`tracker_install()` is called from `AnalyticsConfig.ready()` in every portal process (web
workers, the task cluster, commands) when ANALYTICS_TRACKER_ENABLED is on. It only configures
the default tracker: the flush thread starts with the first recorded event, so commands that
track nothing start no thread (and tests, see tests/conftest.py, start none at all).
"""

import logging

from django.conf import settings
from django.db import close_old_connections, connections

from analytics import tracker
from analytics.store import EventsInvalid, events_insert
from monitoring.hosts import portal_service

logger = logging.getLogger(__name__)


class DatabaseSink:
    """Writes batches with events_insert. An invalid event is left out (logged, counted by the
    tracker as failed) and the rest of its batch is still written: nothing valid is lost."""

    def __init__(self, *, service_id: int | None = None):
        self._service = None
        self._service_id = service_id

    def service(self):
        if self._service is None:
            found = portal_service()
            if self._service_id is not None and found.pk != self._service_id:
                raise ValueError("DatabaseSink: service_id is not the portal's service")
            self._service = found
        return self._service

    def send(self, events: list[dict], *, batch_key: str) -> int:
        """Returns how many events were refused as invalid (0 normally)."""
        try:
            events_insert(service=self.service(), items=events, idempotency_key=batch_key)
            return 0
        except EventsInvalid as exc:
            bad = {error.index for error in exc.errors}
            for error in exc.errors[:10]:
                logger.warning("usage event refused: %s", error.as_dict())
        valid = [event for index, event in enumerate(events) if index not in bad]
        if valid:
            # The refused batch wrote nothing and did not record its key; the rest gets its own.
            events_insert(service=self.service(), items=valid, idempotency_key=f"{batch_key}-valid")
        return len(events) - len(valid)

    def thread_before_flush(self) -> None:
        # Only in the flush thread, like a request would: anywhere else (a request's or a test's
        # transaction, the exit flush) the connection belongs to someone else.
        close_old_connections()

    def thread_exit(self) -> None:
        # Only the flush thread's own connections: they are thread-local.
        connections.close_all()

    def reopen(self) -> None:
        self._service = None  # a forked child looks the service up again on its own connection


def tracker_install() -> tracker.Tracker:
    """Point the default tracker at the database with the ANALYTICS_TRACKER_* settings."""
    return tracker.configure(
        sink=DatabaseSink(),
        limit=settings.ANALYTICS_TRACKER_BUFFER_LIMIT,
        flush_size=settings.ANALYTICS_TRACKER_FLUSH_SIZE,
        flush_interval=settings.ANALYTICS_TRACKER_FLUSH_INTERVAL_SECONDS,
        batch_size=settings.ANALYTICS_INGEST_MAX_BATCH,
    )
