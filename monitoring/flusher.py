"""Writes what the in-process registry recorded, in batches, from a background thread.

Triggers: every METRICS_FLUSH_INTERVAL_SECONDS, as soon as METRICS_FLUSH_SIZE observations
wait, and at interpreter exit (atexit), so nothing recorded before a clean exit is lost.
Rows go through `monitoring.ingest.samples_write`, the ingest API's path. A failed write puts
the data back (bounded by METRICS_BUFFER_LIMIT; the excess is counted as dropped).
"""

import atexit
import json
import logging
import os
import socket
import threading
from datetime import UTC, datetime

from django.conf import settings
from django.db import close_old_connections, connections

from monitoring.hosts import portal_service
from monitoring.ingest import metric_kinds, samples_write
from monitoring.labels import MAX_LABEL_VALUE, labels_canonical, labels_hash
from monitoring.metrics import REGISTRY, Registry

logger = logging.getLogger(__name__)
DROPPED = "portal_metrics_dropped_total"


class Flusher:
    def __init__(self, registry: Registry, *, interval: float, service_id=None):
        self.registry = registry
        self.interval = interval
        self._service_id = service_id
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()  # one flush at a time (thread, atexit, manual)
        self.flushed = 0
        self._instanced: dict[tuple[str, str], tuple[str, str]] = {}  # (canonical, hash) with `instance`

    def _per_process(self, name: str, canonical: str, digest: str) -> tuple[str, str]:
        """A gauge's labels with this process as `instance` (see monitoring.metrics)."""
        if name in self.registry.shared_gauges:
            return canonical, digest
        found = self._instanced.get((canonical, digest))
        if found is None:
            labels = json.loads(canonical)
            labels.setdefault("instance", process_instance())
            text = labels_canonical(labels)
            found = self._instanced[(canonical, digest)] = (text, labels_hash(text))
        return found

    def service_id(self) -> int:
        if self._service_id is None:
            self._service_id = portal_service().pk
        return self._service_id

    def rows(self, counts, gauges, observations, dropped, now: datetime) -> list:
        service_id = self.service_id()
        rows = [(service_id, n, c, h, value, now) for (n, c, h, _), value in counts.items()]
        rows += [(service_id, n, *self._per_process(n, c, h), value, now) for (n, c, h, _), value in gauges.items()]
        rows += [(service_id, n, c, h, v, datetime.fromtimestamp(t, tz=UTC)) for (n, c, h, _), v, t in observations]
        if dropped:
            rows.append((service_id, DROPPED, "{}", _EMPTY_HASH, float(dropped), now))
        return rows

    def flush(self) -> int:
        """Write everything recorded so far; returns the number of rows written."""
        with self._flush_lock:
            counts, gauges, observations, dropped = self.registry.take()
            if not (counts or gauges or observations or dropped):
                return 0
            now = datetime.now(tz=UTC)
            try:
                rows = self.rows(counts, gauges, observations, dropped, now)
                declared = {series[0]: series[3] for series in (*counts, *gauges, *(o[0] for o in observations))}
                if dropped:
                    declared[DROPPED] = "counter"
                # dict() copies in one C call: another thread may register a metric meanwhile.
                helps = {name: metric.help for name, metric in dict(self.registry.metrics).items()}
                metric_kinds(declared, helps)
                written = samples_write(rows)
            except Exception:
                lost = self.registry.give_back(counts, observations, dropped)
                logger.exception("metrics flush failed; kept the data for the next try (%d dropped)", lost)
                return 0
            self.flushed += written
            return written

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(self.interval)
                self._wake.clear()
                if not self._stop.is_set():
                    close_old_connections()  # this thread's connection, like a request would
                    self.flush()
        finally:
            connections.close_all()  # only this thread's connections: they are thread-local

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.registry.on_full = self._wake.set
        self._thread = threading.Thread(target=self._run, name="metrics-flusher", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and write what is left (called at exit)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()


def process_instance() -> str:
    """host:pid, what tells this process's gauges from another's (pid alone repeats across hosts)."""
    return f"{socket.gethostname() or 'localhost'}:{os.getpid()}"[-MAX_LABEL_VALUE:]


_EMPTY_HASH = labels_hash("{}")
FLUSHER = Flusher(REGISTRY, interval=1.0)
_start_lock = threading.Lock()


def flusher_start() -> None:
    """Start the process-wide flusher (idempotent). Called lazily on the first record."""
    with _start_lock:
        FLUSHER.interval = settings.METRICS_FLUSH_INTERVAL_SECONDS
        REGISTRY.flush_size = settings.METRICS_FLUSH_SIZE
        REGISTRY.buffer_limit = settings.METRICS_BUFFER_LIMIT
        FLUSHER.start()


def autostart_install() -> None:
    """Arrange for the flusher to start on the first record in this process (and in forks)."""
    if not settings.METRICS_FLUSH_ENABLED:
        return
    REGISTRY.on_first_record = flusher_start


def _after_fork() -> None:
    # The parent's thread does not exist in the child; its buffer copy would be written twice.
    FLUSHER._thread = None
    FLUSHER._instanced = {}  # labelled with the parent's pid
    REGISTRY.reset_lock()
    FLUSHER._flush_lock = threading.Lock()
    REGISTRY.take()
    autostart_install()


os.register_at_fork(after_in_child=_after_fork)
