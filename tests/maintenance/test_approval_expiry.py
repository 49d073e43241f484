"""Plans waiting for approval longer than MAINTENANCE_APPROVAL_EXPIRY_HOURS are cancelled by the
per-minute sweep, through run_cancel, in bounded batches; a bad row never stops the sweep."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from maintenance import runner
from maintenance.models import MaintenanceRun
from maintenance.runner import run_approve, run_execute, run_queue, runs_sweep

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def waiting(make_task):
    task = make_task(requires_approval=True)

    def make(age: timedelta, status="waiting_approval") -> MaintenanceRun:
        started = NOW - age
        return MaintenanceRun.objects.create(
            task=task, trigger="schedule", status=status, created_at=started - timedelta(minutes=1),
            started_at=started, plan={"summary": "1 change(s)", "items": [{"name": "x"}]},
        )  # fmt: skip

    return make


def status_of(run) -> str:
    run.refresh_from_db()
    return run.status


@override_settings(MAINTENANCE_APPROVAL_EXPIRY_HOURS=72)
def test_only_plans_waiting_longer_than_the_expiry_are_cancelled(waiting):
    old = waiting(timedelta(hours=72, seconds=1))
    young = waiting(timedelta(hours=71, minutes=59))
    old_queued = waiting(timedelta(days=10), status="queued")
    old_done = waiting(timedelta(days=10), status="succeeded")
    counts = runs_sweep(now=NOW)
    assert (counts["expired"], counts["expire_failed"]) == (1, 0)
    assert [status_of(r) for r in (old, young, old_queued, old_done)] == [
        "cancelled", "waiting_approval", "queued", "succeeded"
    ]  # fmt: skip
    old.refresh_from_db()
    assert old.summary == "Cancelled by the portal: approval expired." and old.finished_at == NOW
    assert old.log.endswith("12:00:00 Cancelled by the portal: approval expired.")
    assert old.plan["items"] == [{"name": "x"}]
    assert runs_sweep(now=NOW)["expired"] == 0  # a second sweep finds nothing left


def test_the_setting_decides_the_age(waiting):
    run = waiting(timedelta(hours=2))
    with override_settings(MAINTENANCE_APPROVAL_EXPIRY_HOURS=3):
        assert runs_sweep(now=NOW)["expired"] == 0
    with override_settings(MAINTENANCE_APPROVAL_EXPIRY_HOURS=1):
        assert runs_sweep(now=NOW)["expired"] == 1
    assert status_of(run) == "cancelled"


def test_a_run_that_waited_from_a_real_plan_expires_and_is_never_applied(make_task, fake_executor):
    run = run_queue(task=make_task(requires_approval=True), trigger="manual", enqueue=False)
    assert run_execute(run_id=run.pk) == "waiting_approval"
    run.refresh_from_db()
    later = run.started_at + timedelta(hours=72, minutes=1)
    assert runs_sweep(now=later)["expired"] == 1
    assert run_execute(run_id=run.pk) == "cancelled" and fake_executor.calls == ["plan"]


@override_settings(MAINTENANCE_APPROVAL_EXPIRY_HOURS=1)
def test_batches_are_bounded_and_the_next_sweep_goes_on(waiting, monkeypatch):
    monkeypatch.setattr(runner, "EXPIRE_BATCH", 2)
    monkeypatch.setattr(runner, "EXPIRE_BATCHES", 2)
    runs = [waiting(timedelta(hours=2)) for _ in range(5)]
    assert runs_sweep(now=NOW)["expired"] == 4
    assert [status_of(r) for r in runs].count("waiting_approval") == 1
    assert runs_sweep(now=NOW)["expired"] == 1


@override_settings(MAINTENANCE_APPROVAL_EXPIRY_HOURS=1)
def test_one_bad_row_never_stops_the_sweep(waiting, monkeypatch):
    runs = [waiting(timedelta(hours=2)) for _ in range(3)]
    real_cancel = runner.run_cancel

    def cancel(*, run, **kw):
        if run.pk == runs[1].pk:
            raise RuntimeError("a row the database chokes on")
        return real_cancel(run=run, **kw)

    monkeypatch.setattr(runner, "run_cancel", cancel)
    counts = runs_sweep(now=NOW)
    assert (counts["expired"], counts["expire_failed"]) == (2, 1)
    assert [status_of(r) for r in runs] == ["cancelled", "waiting_approval", "cancelled"]


@override_settings(MAINTENANCE_APPROVAL_EXPIRY_HOURS=1)
def test_a_run_decided_while_the_sweep_reads_is_left_as_decided(waiting, monkeypatch, users):
    run = waiting(timedelta(hours=2))
    real_cancel = runner.run_cancel

    def approved_first(**kw):
        run_approve(run=kw["run"], by=users["operator"], now=NOW)
        return real_cancel(**kw)

    monkeypatch.setattr(runner, "run_cancel", approved_first)
    counts = runs_sweep(now=NOW)
    assert (counts["expired"], counts["expire_failed"]) == (0, 0)
    assert status_of(run) == "queued"


@override_settings(MAINTENANCE_APPROVAL_EXPIRY_HOURS=1)
def test_the_sweep_queries_stay_bounded_per_expired_run(waiting, django_assert_max_num_queries):
    for _ in range(20):
        waiting(timedelta(hours=2))
    # The other sweep steps and one batch read, then per run the run_cancel transition: its
    # savepoint, the row lock, the save and the release; nothing more per row.
    with django_assert_max_num_queries(4 + 4 * 20):
        assert runs_sweep(now=NOW)["expired"] == 20
