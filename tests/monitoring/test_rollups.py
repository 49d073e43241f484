from datetime import timedelta

import pytest
from django.db.models import Sum

from monitoring import tasks
from monitoring.ingest import samples_write
from monitoring.models import (
    HealthCheckResult,
    HourRollup,
    IngestBatch,
    MetricSample,
    MetricTotal,
    MinuteRollup,
    RollupState,
)
from monitoring.query import minute_buckets
from monitoring.rollups import prune_run, rollup_run
from monitoring.sketches import sketch_loads
from tests.monitoring.conftest import T0, row
from tests.monitoring.factories import HealthCheckFactory

pytestmark = pytest.mark.django_db


def fill(service, minutes=90):
    rows = [
        row(service, "latency", (i * 7) % 100, T0 + timedelta(seconds=20 * i), route=f"/r{i % 3}")
        for i in range(minutes * 3)
    ]
    samples_write(rows)


def snapshot(model):
    return sorted(
        (r.service_id, r.name, r.labels_hash, r.start, r.count, r.sum, r.min, r.max, r.last, bytes(r.sketch))
        for r in model.objects.all()
    )


def test_rollup_is_idempotent(service):
    fill(service)
    rollup_run(now=T0 + timedelta(hours=3))
    minutes, hours = snapshot(MinuteRollup), snapshot(HourRollup)
    assert len(minutes) == 90 * 3 and len(hours) == 2 * 3
    RollupState.objects.update(rolled_until=None)  # force a full rerun of the same window
    rollup_run(now=T0 + timedelta(hours=3))
    assert snapshot(MinuteRollup) == minutes
    assert snapshot(HourRollup) == hours


def test_rollup_totals_match_raw(service):
    fill(service)
    rollup_run(now=T0 + timedelta(hours=3))
    raw = MetricSample.objects.aggregate(s=Sum("value"))["s"]
    assert MinuteRollup.objects.aggregate(s=Sum("sum"))["s"] == raw
    assert HourRollup.objects.aggregate(s=Sum("sum"))["s"] == raw
    first_hour = HourRollup.objects.filter(start=T0, labels_hash=MinuteRollup.objects.first().labels_hash).get()
    assert first_hour.count == 60
    assert sketch_loads(bytes(first_hour.sketch)).count == 60


def test_rollup_works_in_bounded_windows_and_waits_for_the_delay(service, settings):
    settings.METRICS_ROLLUP_MAX_MINUTES = 30
    fill(service, minutes=90)
    first = rollup_run(now=T0 + timedelta(minutes=200))
    assert first["minutes"] == 30
    while rollup_run(now=T0 + timedelta(minutes=200))["minutes"]:
        pass
    assert MinuteRollup.objects.values("start").distinct().count() == 90
    # the newest minutes wait METRICS_ROLLUP_DELAY_SECONDS for stragglers
    samples_write([row(service, "latency", 1, T0 + timedelta(minutes=300))])
    rollup_run(now=T0 + timedelta(minutes=301))
    assert not MinuteRollup.objects.filter(start=T0 + timedelta(minutes=300)).exists()


def test_a_late_sample_gets_its_minute_rolled_up_again(service):
    fill(service, minutes=10)
    rollup_run(now=T0 + timedelta(minutes=30))
    samples_write([row(service, "latency", 1000, T0 + timedelta(minutes=2, seconds=5), route="/r0")])
    state = RollupState.objects.get()
    assert state.dirty_since == T0 + timedelta(minutes=2)
    # until it is rolled again, readers take that minute from raw samples
    buckets = minute_buckets(names=["latency"], since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=3))
    assert max(b.max for bs in buckets.values() for b in bs) == 1000
    rollup_run(now=T0 + timedelta(minutes=31))
    assert RollupState.objects.get().dirty_since is None
    assert MinuteRollup.objects.filter(start=T0 + timedelta(minutes=2)).order_by("-max").first().max == 1000


def test_redoing_late_minutes_keeps_their_hour_complete(service, settings):
    fill(service, minutes=60)  # one whole hour, 60 samples per route
    rollup_run(now=T0 + timedelta(hours=2))
    samples_write([row(service, "latency", 5, T0 + timedelta(minutes=30, seconds=1), route="/r0")])
    settings.METRICS_ROLLUP_MAX_MINUTES = 10  # the redo ends at 00:40, inside the rolled-up hour
    assert rollup_run(now=T0 + timedelta(hours=2, minutes=1))["end"] == T0 + timedelta(minutes=40)
    hour = HourRollup.objects.get(
        start=T0, labels_hash=MinuteRollup.objects.get(start=T0, labels__route="/r0").labels_hash
    )
    assert hour.count == 61  # the 60 it had, plus the late one: minutes after the redone window kept
    assert hour.sum == MetricSample.objects.filter(labels__route="/r0").aggregate(s=Sum("value"))["s"]


def test_prune_respects_retention_and_keeps_counter_totals(service, settings):
    settings.METRICS_RAW_RETENTION_DAYS = 1
    settings.METRICS_MINUTE_RETENTION_DAYS = 2
    settings.METRICS_HOUR_RETENTION_DAYS = 3
    settings.METRICS_PRUNE_BATCH = 50  # forces several batches (at most 20 per run)
    fill(service, minutes=60)
    rollup_run(now=T0 + timedelta(hours=2))
    check = HealthCheckFactory()
    HealthCheckResult.objects.create(health_check=check, status="healthy", created_at=T0)
    IngestBatch.objects.create(service=service, key="old", samples=1, created_at=T0)
    total = MetricSample.objects.aggregate(s=Sum("value"))["s"]

    prune_run(now=T0 + timedelta(days=1, hours=2))
    assert not MetricSample.objects.exists()
    assert MinuteRollup.objects.exists() and HourRollup.objects.exists()
    assert not IngestBatch.objects.exists()

    prune_run(now=T0 + timedelta(days=2, hours=2))
    assert not MinuteRollup.objects.exists() and HourRollup.objects.exists()

    prune_run(now=T0 + timedelta(days=31))
    assert not HourRollup.objects.exists()
    assert not HealthCheckResult.objects.exists()
    assert MetricTotal.objects.aggregate(s=Sum("sum"))["s"] == total
    assert MetricTotal.objects.count() == 3  # one per series


def test_prune_never_deletes_raw_samples_that_are_not_rolled_up(service, settings):
    settings.METRICS_RAW_RETENTION_DAYS = 1
    fill(service, minutes=5)
    prune_run(now=T0 + timedelta(days=10))  # the rollup job never ran
    assert MetricSample.objects.count() == 15


def test_rollup_task_catches_up(service, settings, monkeypatch):
    settings.METRICS_ROLLUP_MAX_MINUTES = 20
    fill(service, minutes=60)
    monkeypatch.setattr("monitoring.rollups.timezone.now", lambda: T0 + timedelta(hours=2))
    assert tasks.rollup_minutes()["minutes"] == 60 + 60 - 2  # up to now - delay
    assert MinuteRollup.objects.values("start").distinct().count() == 60


def test_a_rollup_that_lost_the_race_writes_nothing(service, monkeypatch):
    fill(service, minutes=10)
    from monitoring import rollups

    real = rollups._minute_rows

    def slow_scan(start, end):
        rows = real(start, end)
        # another worker finishes the same window while this one is still computing
        RollupState.objects.filter(key="minute").update(rolled_until=end)
        return rows

    monkeypatch.setattr(rollups, "_minute_rows", slow_scan)
    assert rollup_run(now=T0 + timedelta(minutes=30))["raced"] is True
    assert not MinuteRollup.objects.exists()


def _write_during_scan(monkeypatch, *samples):
    """Make the rollup's raw scan miss `samples`: they commit right after it read the window."""
    from monitoring import rollups

    real = rollups._minute_rows

    def scan_then_write(start, end):
        rows = real(start, end)
        samples_write(list(samples))
        return rows

    monkeypatch.setattr(rollups, "_minute_rows", scan_then_write)


def test_a_sample_committed_while_its_new_minute_is_scanned_is_rolled_up_next_run(service, monkeypatch):
    fill(service, minutes=10)
    rollup_run(now=T0 + timedelta(minutes=5))  # rolls [00:00, 00:03)
    late = T0 + timedelta(minutes=6, seconds=30)  # in the next window, never rolled before
    _write_during_scan(monkeypatch, row(service, "latency", 5000, late, route="/r0"))
    done = rollup_run(now=T0 + timedelta(minutes=30))
    assert done["start"] <= late < done["end"]
    assert RollupState.objects.get().dirty_since == T0 + timedelta(minutes=6)
    # readers take that minute from raw samples meanwhile
    buckets = minute_buckets(names=["latency"], since=T0 + timedelta(minutes=6), until=T0 + timedelta(minutes=7))
    assert max(b.max for bs in buckets.values() for b in bs) == 5000
    monkeypatch.undo()
    rollup_run(now=T0 + timedelta(minutes=31))
    assert RollupState.objects.get().dirty_since is None
    assert MinuteRollup.objects.filter(start=T0 + timedelta(minutes=6)).order_by("-max").first().max == 5000
    assert HourRollup.objects.aggregate(s=Sum("sum"))["s"] == MetricSample.objects.aggregate(s=Sum("value"))["s"]


def test_a_second_late_sample_during_a_redo_is_not_lost(service, monkeypatch):
    fill(service, minutes=10)
    rollup_run(now=T0 + timedelta(minutes=30))
    samples_write([row(service, "latency", 1000, T0 + timedelta(minutes=2, seconds=5), route="/r0")])
    # while minutes from 00:02 are being redone, a sample for 00:04 commits after the scan
    _write_during_scan(monkeypatch, row(service, "latency", 2000, T0 + timedelta(minutes=4, seconds=5), route="/r0"))
    rollup_run(now=T0 + timedelta(minutes=31))
    assert RollupState.objects.get().dirty_since == T0 + timedelta(minutes=4)
    monkeypatch.undo()
    rollup_run(now=T0 + timedelta(minutes=32))
    assert MinuteRollup.objects.filter(start=T0 + timedelta(minutes=4)).order_by("-max").first().max == 2000
    assert MinuteRollup.objects.aggregate(s=Sum("sum"))["s"] == MetricSample.objects.aggregate(s=Sum("value"))["s"]


def test_one_run_holds_the_window_until_its_lease_expires(service, monkeypatch):
    from monitoring import rollups

    fill(service, minutes=10)
    real = rollups._minute_rows
    inner = {}

    def scan_while_another_run_starts(start, end):
        rows = real(start, end)
        if not inner:
            inner["busy"] = rollup_run(now=T0 + timedelta(minutes=30, seconds=1))
            inner["takeover"] = rollup_run(now=T0 + timedelta(minutes=30) + rollups.ROLLUP_LEASE + MINUTE_)
        return rows

    monkeypatch.setattr(rollups, "_minute_rows", scan_while_another_run_starts)
    first = rollup_run(now=T0 + timedelta(minutes=30))
    assert inner["busy"]["minutes"] == 0 and "raced" not in inner["busy"]  # skipped: the lease is held
    assert inner["takeover"]["minutes"] > 0  # the lease expired: the window was taken over and rolled
    assert first.get("raced") is True  # so the slow first run writes nothing over it
    state = RollupState.objects.get()
    assert state.claimed_at is None and state.rolled_until == inner["takeover"]["end"]
    assert MinuteRollup.objects.aggregate(s=Sum("sum"))["s"] == MetricSample.objects.aggregate(s=Sum("value"))["s"]


MINUTE_ = timedelta(minutes=1)


@pytest.mark.django_db(transaction=True)
def test_a_rollup_claim_waits_for_a_sample_write_in_flight(service):
    import threading

    from django.db import connection, transaction

    from tests.support import on_postgres

    if not on_postgres():
        pytest.skip("SQLite serialises the writers by itself; the advisory lock is PostgreSQL's")
    fill(service, minutes=10)
    rollup_run(now=T0 + timedelta(minutes=5))
    written, release, outcome = threading.Event(), threading.Event(), {}

    def writer():
        try:
            with transaction.atomic():
                samples_write([row(service, "latency", 5000, T0 + timedelta(minutes=6, seconds=30), route="/r0")])
                written.set()
                release.wait(10)
        finally:
            connection.close()

    def roller():
        try:
            outcome.update(rollup_run(now=T0 + timedelta(minutes=30)))
        finally:
            connection.close()

    threads = [threading.Thread(target=writer), threading.Thread(target=roller)]
    threads[0].start()
    assert written.wait(10)
    threads[1].start()
    threads[1].join(0.5)
    assert threads[1].is_alive()  # the claim waits until the write commits...
    release.set()
    for t in threads:
        t.join(10)
    assert outcome["minutes"] > 0
    # ...so the scan sees the sample (or, had it committed later, it would have marked its minute)
    assert MinuteRollup.objects.filter(start=T0 + timedelta(minutes=6)).order_by("-max").first().max == 5000


def test_a_failed_rollup_releases_its_lease_for_the_next_run(service, monkeypatch):
    from monitoring import rollups

    fill(service, minutes=10)

    def broken(start, end):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(rollups, "_minute_rows", broken)
    with pytest.raises(RuntimeError):
        rollup_run(now=T0 + timedelta(minutes=30))
    monkeypatch.undo()
    assert rollup_run(now=T0 + timedelta(minutes=31))["minutes"] > 0  # a minute later, not after the lease
    assert MinuteRollup.objects.aggregate(s=Sum("sum"))["s"] == MetricSample.objects.aggregate(s=Sum("value"))["s"]
