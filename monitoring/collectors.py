"""System metrics of this host from psutil: one small class per collector, one registry, one job.

`collect_run` primes every collector, waits one sampling window (METRICS_COLLECT_WINDOW_SECONDS),
then reads them all, so CPU percentages and I/O rates are averages over that window and need no
state kept between runs (the job may run in any worker process). A collector that raises is
logged and counted (`portal_collector_errors_total{collector}`), and the others still report.
"""

import logging
import time
from datetime import datetime

import psutil
from django.conf import settings
from django.utils import timezone

from monitoring.hosts import local_host_service, portal_service
from monitoring.ingest import metric_kinds, samples_write
from monitoring.labels import labels_canonical, labels_hash

logger = logging.getLogger(__name__)
Reading = tuple[str, dict[str, str], float]  # (metric name, labels, value)
# Filesystems that are not storage a person would fill up.
PSEUDO_FS = frozenset(
    {"tmpfs", "devtmpfs", "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "squashfs", "nsfs", "autofs"}
)


class Collector:
    name = ""

    def prepare(self) -> None:
        """Take the first reading of a window (only rate-like collectors need it)."""

    def collect(self, elapsed: float) -> list[Reading]:
        raise NotImplementedError


class CpuCollector(Collector):
    name = "cpu"

    def prepare(self):
        # psutil compares with its previous call; these calls start the window.
        psutil.cpu_percent(interval=None)
        psutil.cpu_percent(interval=None, percpu=True)

    def collect(self, elapsed):
        readings = [("system_cpu_percent", {"cpu": "total"}, psutil.cpu_percent(interval=None))]
        for index, percent in enumerate(psutil.cpu_percent(interval=None, percpu=True)):
            readings.append(("system_cpu_percent", {"cpu": str(index)}, percent))
        return readings


class LoadCollector(Collector):
    name = "load"

    def collect(self, elapsed):
        one, five, fifteen = psutil.getloadavg()
        return [("system_load1", {}, one), ("system_load5", {}, five), ("system_load15", {}, fifteen)]


class MemoryCollector(Collector):
    name = "memory"

    def collect(self, elapsed):
        return [
            ("system_memory_percent", {}, psutil.virtual_memory().percent),
            ("system_swap_percent", {}, psutil.swap_memory().percent),
        ]


class DiskUsageCollector(Collector):
    name = "disk_usage"

    def collect(self, elapsed):
        readings, seen = [], set()
        for part in psutil.disk_partitions(all=False):
            if part.fstype in PSEUDO_FS or part.device in seen:
                continue
            seen.add(part.device)
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except (PermissionError, OSError):
                continue  # e.g. an unreadable or vanished mount: not this collector's failure
            readings.append(("system_disk_percent", {"mount": part.mountpoint}, usage.percent))
        return readings


class _RateCollector(Collector):
    metric = ""
    fields: dict[str, str] = {}

    def counters(self):
        raise NotImplementedError

    def prepare(self):
        self.first = self.counters()

    def collect(self, elapsed):
        second = self.counters()
        if self.first is None or second is None or elapsed <= 0:
            return []
        return [
            (self.metric, {"direction": label}, max(0.0, getattr(second, attr) - getattr(self.first, attr)) / elapsed)
            for attr, label in self.fields.items()
        ]


class DiskIoCollector(_RateCollector):
    name = "disk_io"
    metric = "system_disk_io_bytes_per_second"
    fields = {"read_bytes": "read", "write_bytes": "write"}

    def counters(self):
        return psutil.disk_io_counters()


class NetworkCollector(_RateCollector):
    name = "network"
    metric = "system_network_bytes_per_second"
    fields = {"bytes_sent": "sent", "bytes_recv": "recv"}

    def counters(self):
        return psutil.net_io_counters()


class ProcessCollector(Collector):
    name = "processes"

    def collect(self, elapsed):
        return [("system_process_count", {}, float(len(psutil.pids())))]


COLLECTORS: dict[str, type[Collector]] = {
    c.name: c
    for c in (
        CpuCollector,
        LoadCollector,
        MemoryCollector,
        DiskUsageCollector,
        DiskIoCollector,
        NetworkCollector,
        ProcessCollector,
    )
}
ERRORS_METRIC = "portal_collector_errors_total"
HELP = {
    "system_cpu_percent": "CPU busy percent over the sampling window (cpu=total or a core number)",
    "system_memory_percent": "Memory in use, percent",
    "system_swap_percent": "Swap in use, percent",
    "system_disk_percent": "Disk space in use per mount, percent",
    "system_load1": "Load average over 1 minute",
    "system_load5": "Load average over 5 minutes",
    "system_load15": "Load average over 15 minutes",
    "system_disk_io_bytes_per_second": "Disk bytes read/written per second over the sampling window",
    "system_network_bytes_per_second": "Network bytes sent/received per second over the sampling window",
    "system_process_count": "Number of processes",
    ERRORS_METRIC: "System collector failures by collector",
}


def _row(service_id: int, name: str, labels: dict, value: float, now: datetime):
    canonical = labels_canonical(labels)
    return (service_id, name, canonical, labels_hash(canonical), float(value), now)


def collect_run(*, now: datetime | None = None, window: float | None = None, collectors=None) -> dict:
    """Run every collector once for the local host service and store the readings in one batch."""
    now = now or timezone.now()
    window = settings.METRICS_COLLECT_WINDOW_SECONDS if window is None else window
    instances = [cls() for cls in (collectors or COLLECTORS).values()]
    failed: dict[str, str] = {}
    for collector in instances:
        try:
            collector.prepare()
        except Exception as exc:
            failed[collector.name] = f"{type(exc).__name__}: {exc}"
            logger.exception("collector %s failed to prepare", collector.name)
    started = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - started
    host = local_host_service()
    rows, kinds = [], {}
    for collector in instances:
        if collector.name in failed:
            continue
        try:
            readings = collector.collect(elapsed)
        except Exception as exc:
            failed[collector.name] = f"{type(exc).__name__}: {exc}"
            logger.exception("collector %s failed", collector.name)
            continue
        for name, labels, value in readings:
            rows.append(_row(host.pk, name, labels, value, now))
            kinds[name] = "gauge"
    if failed:
        portal = portal_service()
        rows += [_row(portal.pk, ERRORS_METRIC, {"collector": name}, 1, now) for name in failed]
        kinds[ERRORS_METRIC] = "counter"
    metric_kinds(kinds, HELP)
    samples_write(rows)
    return {"samples": len(rows), "failed": failed}
