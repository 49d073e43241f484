from collections import namedtuple

import pytest

from monitoring import collectors
from monitoring.collectors import COLLECTORS, Collector, collect_run
from monitoring.hosts import local_host_service
from monitoring.models import MetricSample

pytestmark = pytest.mark.django_db

EXPECTED = {
    "system_cpu_percent",
    "system_memory_percent",
    "system_swap_percent",
    "system_disk_percent",
    "system_load1",
    "system_load5",
    "system_load15",
    "system_disk_io_bytes_per_second",
    "system_network_bytes_per_second",
    "system_process_count",
}


def test_collect_run_stores_every_system_metric_for_the_local_host():
    outcome = collect_run(window=0.05)
    assert outcome["failed"] == {}
    host = local_host_service()
    rows = MetricSample.objects.filter(service=host)
    names = set(rows.values_list("name", flat=True))
    # disk I/O counters do not exist on every machine (e.g. some containers)
    assert EXPECTED - {"system_disk_io_bytes_per_second"} <= names <= EXPECTED
    cpu = {r.labels["cpu"] for r in rows.filter(name="system_cpu_percent")}
    assert "total" in cpu and "0" in cpu
    assert {r.labels["direction"] for r in rows.filter(name="system_network_bytes_per_second")} == {"sent", "recv"}
    assert all(r.value >= 0 for r in rows)
    assert all(r.labels["mount"].startswith("/") for r in rows.filter(name="system_disk_percent"))


def test_local_host_service_is_idempotent(settings):
    settings.METRICS_HOST_SERVICE = "Build Box 7"
    first = local_host_service()
    assert first.slug == "build-box-7"
    assert local_host_service().pk == first.pk


class Broken(Collector):
    name = "broken"

    def collect(self, elapsed):
        raise OSError("sensor unplugged")


def test_a_failing_collector_is_logged_and_counted_and_the_others_still_report(caplog):
    chosen = {"broken": Broken, "memory": COLLECTORS["memory"], "processes": COLLECTORS["processes"]}
    outcome = collect_run(window=0, collectors=chosen)
    assert outcome["failed"] == {"broken": "OSError: sensor unplugged"}
    assert "collector broken failed" in caplog.text
    assert set(MetricSample.objects.values_list("name", flat=True)) == {
        "system_memory_percent",
        "system_swap_percent",
        "system_process_count",
        collectors.ERRORS_METRIC,
    }
    error = MetricSample.objects.get(name=collectors.ERRORS_METRIC)
    assert error.labels == {"collector": "broken"} and error.value == 1


def test_disk_usage_skips_pseudo_filesystems(monkeypatch):
    Part = namedtuple("Part", "device mountpoint fstype opts")
    Usage = namedtuple("Usage", "percent")
    parts = [
        Part("/dev/vda", "/", "ext4", ""),
        Part("tmpfs", "/run", "tmpfs", ""),
        Part("/dev/vda", "/again", "ext4", ""),
    ]
    monkeypatch.setattr(collectors.psutil, "disk_partitions", lambda all: parts)
    monkeypatch.setattr(collectors.psutil, "disk_usage", lambda path: Usage(42.0))
    assert collectors.DiskUsageCollector().collect(1) == [("system_disk_percent", {"mount": "/"}, 42.0)]


def test_io_rates_are_deltas_over_the_window_and_never_negative(monkeypatch):
    Net = namedtuple("Net", "bytes_sent bytes_recv")
    readings = iter([Net(1000, 5000), Net(3000, 4000)])  # recv went down: the counter wrapped/reset
    monkeypatch.setattr(collectors.psutil, "net_io_counters", lambda: next(readings))
    network = collectors.NetworkCollector()
    network.prepare()
    assert network.collect(2.0) == [
        ("system_network_bytes_per_second", {"direction": "sent"}, 1000.0),
        ("system_network_bytes_per_second", {"direction": "recv"}, 0.0),
    ]
    # no counters on this machine (psutil returns None): nothing, and no error
    monkeypatch.setattr(collectors.psutil, "disk_io_counters", lambda: None)
    disk = collectors.DiskIoCollector()
    disk.prepare()
    assert disk.collect(1.0) == []
