"""Gauges recorded in several processes: each process's value is its own series (label
`instance` = host:pid), so two workers no longer overwrite each other; readers aggregate
(/metrics shows one line per process, like Prometheus' multi-process gauges). A gauge whose
value is the same whichever process reads it says `per_process=False`: one series, latest wins."""

import os
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitoring.flusher import Flusher
from monitoring.labels import MetricError
from monitoring.metrics import Gauge, Registry, gauge
from monitoring.models import MetricSample
from tests.support import manage, separate_database

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry():
    return Registry()


@pytest.fixture
def flusher(registry, service):
    return Flusher(registry, interval=3600, service_id=service.pk)


def stored_labels(name):
    return [labels for labels in MetricSample.objects.filter(name=name).values_list("labels", flat=True)]


def test_a_gauge_is_written_with_the_process_as_instance(registry, flusher):
    Gauge("inflight_requests", labelnames=("pool",), registry=registry).set(3, pool="web")
    flusher.flush()
    assert stored_labels("inflight_requests") == [{"pool": "web", "instance": f"{socket.gethostname()}:{os.getpid()}"}]


def test_a_shared_gauge_and_a_gauge_naming_its_instance_keep_their_labels(registry, flusher):
    Gauge("queue_depth", registry=registry, per_process=False).set(12)
    Gauge("pool_size", labelnames=("instance",), registry=registry).set(4, instance="pool-a")
    flusher.flush()
    assert stored_labels("queue_depth") == [{}]
    assert stored_labels("pool_size") == [{"instance": "pool-a"}]


def test_counters_and_histograms_get_no_instance(registry, flusher):
    from monitoring.metrics import Counter, Histogram

    Counter("jobs_total", registry=registry).inc()
    Histogram("job_seconds", registry=registry).observe(1.5)
    flusher.flush()
    assert stored_labels("jobs_total") == [{}] and stored_labels("job_seconds") == [{}]


def test_a_gauge_cannot_be_both_per_process_and_shared(registry):
    gauge("depth", registry=registry)
    with pytest.raises(MetricError, match="per_process"):
        gauge("depth", registry=registry, per_process=False)
    assert registry.metrics["depth"].per_process is True


@pytest.mark.slow
def test_two_processes_recording_one_gauge_are_both_kept(tmp_path):
    record = (
        "from monitoring.flusher import FLUSHER\n"
        "from monitoring.metrics import gauge\n"
        "gauge('app_inflight_requests', 'Requests being served').set(VALUE)\n"
        "gauge('app_queue_depth', 'Jobs waiting', per_process=False).set(VALUE)\n"
        "FLUSHER.flush()\n"
    )
    read = (
        "from django.test import Client\nprint('---', Client(HTTP_HOST='localhost').get('/metrics').content.decode())\n"
    )
    with separate_database(tmp_path) as env:
        env = {**env, "METRICS_FLUSH_INTERVAL_SECONDS": "3600"}
        for value in ("3", "5"):
            result = manage("shell", "-c", record.replace("VALUE", value), env=env)
            assert result.returncode == 0, result.stderr
        result = manage("shell", "-c", read, env=env)
    assert result.returncode == 0, result.stderr
    exposition = result.stdout.split("--- ", 1)[1]  # after what `shell` says about its imports
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    inflight = families["app_inflight_requests"].samples
    assert sorted(s.value for s in inflight) == [3.0, 5.0]  # was one line: whichever flushed last
    assert len({s.labels["instance"] for s in inflight}) == 2
    assert sum(s.value for s in inflight) == 8.0  # what `sum without (instance)` reads
    (depth,) = families["app_queue_depth"].samples
    assert depth.value == 5.0 and depth.labels == {"service": "portal"}
