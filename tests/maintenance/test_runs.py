"""The runner: claims, plan → approval → apply, outcomes, errors, timeouts and lost workers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from maintenance import runner
from maintenance.executors.base import REGISTRY
from maintenance.models import MaintenanceRun
from maintenance.runner import RunRefused, run_approve, run_claim, run_execute, run_queue, run_reject, runs_sweep


def queue(task, **kw):
    return run_queue(task=task, trigger="manual", **kw)


def test_a_run_without_approval_plans_and_applies(make_task):
    task = make_task(config={"items": 2})
    run = queue(task)
    assert run.status == "queued"
    assert run_execute(run_id=run.pk) == "succeeded"
    run.refresh_from_db()
    assert run.status == "succeeded" and run.summary == "Updated 2 package(s)"
    assert [p["name"] for p in run.plan["items"]] == ["pkg0", "pkg1"]
    assert run.changes["bytes_freed"] == 2048
    # The figures reporting sums are copied into their columns as the run finishes.
    assert (run.bytes_freed, run.files_removed, run.packages_updated) == (2048, 0, 2)
    assert "looking around" in run.log and "applied 2" in run.log
    assert run.started_at <= run.finished_at and run.duration_seconds >= 0
    assert run.claim_token and run.heartbeat_at is None


def test_approval_flow_waits_then_applies_the_stored_plan(make_task, fake_executor, users):
    task = make_task(requires_approval=True)
    run = queue(task)
    assert run_execute(run_id=run.pk) == "waiting_approval"
    run.refresh_from_db()
    assert run.status == "waiting_approval" and run.plan["summary"] == "1 change(s)" and run.claim_token == ""
    assert fake_executor.calls == ["plan"]
    run_approve(run=run, by=users["operator"])
    run.refresh_from_db()
    assert (run.status, run.decision, run.decided_by) == ("queued", "approved", users["operator"])
    assert run_execute(run_id=run.pk) == "succeeded"
    assert fake_executor.calls == ["plan", "apply"]  # not planned again: the approved plan is applied
    run.refresh_from_db()
    assert "Approved by operator" in run.log and run.status == "succeeded"
    with pytest.raises(RunRefused, match="waiting for approval"):
        run_approve(run=run, by=users["operator"])


def test_a_rejected_plan_is_cancelled_and_never_applied(make_task, fake_executor, users):
    run = queue(make_task(requires_approval=True))
    run_execute(run_id=run.pk)
    run_reject(run=run, by=users["operator"])
    run.refresh_from_db()
    assert (run.status, run.decision) == ("cancelled", "rejected") and run.finished_at
    assert run_execute(run_id=run.pk) == "cancelled"
    assert fake_executor.calls == ["plan"]
    with pytest.raises(RunRefused):
        run_approve(run=run, by=users["operator"])


def test_an_empty_plan_ends_the_run_without_apply(make_task, fake_executor):
    run = queue(make_task(config={"items": 0}, requires_approval=True))
    assert run_execute(run_id=run.pk) == "succeeded"
    run.refresh_from_db()
    assert run.summary.startswith("Nothing to do") and fake_executor.calls == ["plan"]


def test_plan_only_never_applies(make_task, fake_executor):
    run = queue(make_task(), plan_only=True)
    assert run_execute(run_id=run.pk) == "succeeded"
    assert fake_executor.calls == ["plan"]
    run.refresh_from_db()
    assert run.summary.startswith("Planned only") and run.plan["items"]


@pytest.mark.parametrize("outcome", ["failed", "partial", "rolled_back"])
def test_the_executor_outcome_is_the_run_status(make_task, outcome):
    run = queue(make_task(config={"outcome": outcome}))
    assert run_execute(run_id=run.pk) == outcome


def test_an_unknown_outcome_status_is_recorded_as_failed(make_task):
    run = queue(make_task(config={"outcome": "bogus"}))
    assert run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert "unknown status 'bogus'" in run.log


@pytest.mark.parametrize("where, error", [("plan", "RuntimeError: planning broke"), ("apply", "OSError: disk on fire")])
def test_executor_exceptions_fail_the_run_with_the_error_in_the_log(make_task, where, error):
    run = queue(make_task(config={"fail": where}))
    assert run_execute(run_id=run.pk) == "failed"  # and did not raise: the worker lives on
    run.refresh_from_db()
    assert run.status == "failed" and error in run.log and run.finished_at


def test_a_config_made_invalid_after_saving_fails_the_run_naming_it(make_task):
    task = make_task()
    type(task).objects.filter(pk=task.pk).update(config={"items": 99})
    run = queue(task)
    assert run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert "Invalid config" in run.log and "items" in run.log


def test_a_kind_without_executor_fails_clearly(make_task, monkeypatch):
    run = queue(make_task())
    monkeypatch.delitem(REGISTRY, "scaling_check")
    assert run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert "No executor" in run.log


def test_a_second_run_is_refused_while_one_is_queued_or_running(make_task):
    task = make_task()
    run = queue(task)
    with pytest.raises(RunRefused, match="already queued"):
        queue(task)
    assert run_claim(run_id=run.pk, worker="w1")
    with pytest.raises(RunRefused, match="already running"):
        queue(task)


def test_a_claimed_run_cannot_be_claimed_again(make_task):
    run = queue(make_task())
    assert run_claim(run_id=run.pk, worker="w1")
    assert run_claim(run_id=run.pk, worker="w2") is None
    assert run_execute(run_id=run.pk) == "running"  # a second delivery changes nothing


def test_the_constraint_keeps_a_second_run_of_a_task_from_running(make_task, users):
    """An approved run queued while a scheduled run of the same task runs waits its turn."""
    task = make_task(requires_approval=True)
    first = queue(task)
    run_execute(run_id=first.pk)  # waiting for approval
    second = queue(task)
    assert run_claim(run_id=second.pk, worker="w1")
    run_approve(run=first, by=users["operator"])
    assert run_claim(run_id=first.pk, worker="w2") is None
    first.refresh_from_db()
    assert first.status == "queued"


def test_refactor_tasks_and_tasks_without_environment_have_no_runs(make_task):
    with pytest.raises(RunRefused, match="people"):
        queue(make_task(kind="refactor", environment=None))
    with pytest.raises(RunRefused, match="environment"):
        queue(make_task(environment=None))


def test_the_sweep_fails_a_run_past_its_deadline(make_task):
    task = make_task(timeout_seconds=60)
    run = queue(task)
    now = timezone.now()
    token = run_claim(run_id=run.pk, worker="w1", now=now)
    later = now + timedelta(seconds=100)
    # Still beating: only the deadline is past.
    MaintenanceRun.objects.filter(pk=run.pk).update(heartbeat_at=later)
    assert runs_sweep(now=now + timedelta(seconds=60))["timed_out"] == 0  # within the grace
    assert runs_sweep(now=later)["timed_out"] == 1
    run.refresh_from_db()
    assert run.status == "failed" and "Timed out" in run.summary and "Timed out" in run.log
    # The worker coming back late cannot overwrite what the sweep decided.
    assert not runner.run_finish(run_id=run.pk, token=token, status="succeeded", summary="late",
                                 log=runner.RunLog())  # fmt: skip
    run.refresh_from_db()
    assert run.status == "failed"


def test_the_sweep_fails_a_run_whose_worker_was_killed(make_task):
    """A killed worker leaves a claimed run whose heartbeat stops: the next sweep fails it."""
    run = queue(make_task(timeout_seconds=3600))
    now = timezone.now()
    run_claim(run_id=run.pk, worker="host:4242", now=now)
    assert runs_sweep(now=now + timedelta(seconds=90)) == {
        "timed_out": 0, "worker_lost": 0, "requeued": 0, "expired": 0, "expire_failed": 0
    }  # fmt: skip
    assert runs_sweep(now=now + timedelta(minutes=3))["worker_lost"] == 1
    run.refresh_from_db()
    assert run.status == "failed" and "host:4242 stopped responding" in run.summary
    # The task is free again.
    assert queue(run.task).status == "queued"


def test_the_sweep_hands_a_long_queued_run_to_the_workers_again(
    make_task, task_queue, django_capture_on_commit_callbacks
):
    queue(make_task())
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert runs_sweep(now=now + timedelta(minutes=1))["requeued"] == 0
        assert runs_sweep(now=now + timedelta(minutes=3))["requeued"] == 1
        assert runs_sweep(now=now + timedelta(minutes=4))["requeued"] == 0  # once per REQUEUE_AFTER
        assert runs_sweep(now=now + timedelta(minutes=6))["requeued"] == 1
    assert task_queue.queue_size() == 2


def test_queueing_hands_the_run_to_the_workers_after_commit(make_task, task_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue(make_task())
    assert task_queue.queue_size() == 1


def test_a_long_log_keeps_head_and_tail():
    log = runner.RunLog(head_chars=100, tail_chars=200)
    for i in range(1000):
        log(f"line {i}")
    text = log.text()
    assert "line 0" in text and "line 999" in text and "line 500" not in text
    assert "characters of log cut here" in text and len(text) < 400
