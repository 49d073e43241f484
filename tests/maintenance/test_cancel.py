"""Cancelling a run before a worker has it: queued or waiting for approval → cancelled, by the
runner, the API and the run page; anything else is refused and no worker runs a cancelled run."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.utils import timezone

from maintenance.models import MaintenanceRun
from maintenance.runner import RunRefused, run_approve, run_cancel, run_claim, run_execute, run_queue
from tests.support import on_postgres

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ACTORS = ("anonymous", "viewer", "operator", "admin", "other_key")


@pytest.fixture
def queued_run(make_task):
    return run_queue(task=make_task(config={"items": 2}), trigger="manual", enqueue=False)


@pytest.fixture
def waiting_run(make_task):
    run = run_queue(task=make_task(requires_approval=True), trigger="manual", enqueue=False)
    assert run_execute(run_id=run.pk) == "waiting_approval"
    return run


def test_a_queued_run_is_cancelled_and_no_worker_runs_it(queued_run, users, fake_executor):
    cancelled = run_cancel(run=queued_run, by=users["operator"], reason="  wrong   window ", now=NOW)
    assert (cancelled.status, cancelled.finished_at) == ("cancelled", NOW)
    assert cancelled.summary == "Cancelled by operator: wrong window."
    assert cancelled.log.endswith("09:30:00 Cancelled by operator: wrong window.")
    assert run_claim(run_id=queued_run.pk, worker="w1") is None
    assert run_execute(run_id=queued_run.pk) == "cancelled"
    assert fake_executor.calls == []
    queued_run.refresh_from_db()
    assert queued_run.status == "cancelled" and queued_run.started_at is None


def test_a_run_waiting_for_approval_is_cancelled_and_cannot_be_approved(waiting_run, users, fake_executor):
    run_cancel(run=waiting_run, by=users["admin"], now=NOW)
    waiting_run.refresh_from_db()
    assert (waiting_run.status, waiting_run.summary, waiting_run.decision) == ("cancelled", "Cancelled by admin.", "")
    assert waiting_run.plan["items"]  # the plan stays on record
    with pytest.raises(RunRefused, match="waiting for approval"):
        run_approve(run=waiting_run, by=users["operator"])
    assert fake_executor.calls == ["plan"]


def test_an_approved_run_still_queued_can_be_cancelled(waiting_run, users, fake_executor):
    run_approve(run=waiting_run, by=users["operator"])
    run_cancel(run=waiting_run, by=users["operator"])
    assert run_execute(run_id=waiting_run.pk) == "cancelled" and fake_executor.calls == ["plan"]


@pytest.mark.parametrize("status", ["running", "succeeded", "failed", "partial", "rolled_back", "cancelled"])
def test_other_statuses_are_refused(queued_run, users, status):
    MaintenanceRun.objects.filter(pk=queued_run.pk).update(status=status)
    with pytest.raises(RunRefused, match=f"this one is {status}"):
        run_cancel(run=queued_run, by=users["operator"])
    queued_run.refresh_from_db()
    assert queued_run.status == status


def test_a_run_deleted_meanwhile_is_refused(queued_run, users):
    MaintenanceRun.objects.filter(pk=queued_run.pk).delete()
    with pytest.raises(RunRefused, match="gone"):
        run_cancel(run=queued_run, by=users["operator"])


def test_a_task_with_a_cancelled_run_can_run_again(queued_run, users):
    run_cancel(run=queued_run, by=users["operator"])
    assert run_queue(task=queued_run.task, trigger="manual", enqueue=False).status == "queued"


@pytest.mark.parametrize("actor", ACTORS)
def test_the_api_cancels_for_operators_and_admins(api_client, waiting_run, actor):
    response = api_client(actor).post(f"/api/v1/maintenance/runs/{waiting_run.pk}/cancel/", {}, format="json")
    if actor in ("operator", "admin"):
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "cancelled"
    else:
        assert response.status_code == (401 if actor == "anonymous" else 403), (actor, response.status_code)
        waiting_run.refresh_from_db()
        assert waiting_run.status == "waiting_approval"


def test_the_api_keeps_the_reason_and_answers_409_once_ended(api_client, waiting_run):
    url = f"/api/v1/maintenance/runs/{waiting_run.pk}/cancel/"
    client = api_client("operator")
    first = client.post(url, {"reason": "not this week"}, format="json")
    assert first.status_code == 200 and first.json()["summary"] == "Cancelled by operator: not this week."
    again = client.post(url, {}, format="json")
    assert again.status_code == 409 and "this one is cancelled" in again.json()["detail"]


def test_the_api_refuses_a_reason_too_long_naming_the_field(api_client, waiting_run):
    response = api_client("operator").post(
        f"/api/v1/maintenance/runs/{waiting_run.pk}/cancel/", {"reason": "x" * 201}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()


def test_the_run_page_offers_cancel_to_operators_only(page_client, waiting_run):
    url = f"/maintenance/runs/{waiting_run.pk}/"
    assert "Cancel run" not in page_client("viewer").get(url).content.decode()
    assert "Cancel run" in page_client("operator").get(url).content.decode()
    response = page_client("operator").post(f"{url}cancel/", {"reason": "duplicate"})
    assert response.status_code == 302 and response["Location"] == url
    waiting_run.refresh_from_db()
    assert waiting_run.status == "cancelled" and waiting_run.summary == "Cancelled by operator: duplicate."
    page = page_client("operator").get(url).content.decode()
    assert "Cancel run" not in page
    refused = page_client("operator").post(f"{url}cancel/", follow=True)
    assert "can be cancelled (this one is cancelled)" in refused.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_a_claim_and_a_cancel_at_once_end_one_way(make_task, users, attempt):
    if not on_postgres():
        pytest.skip("a real race needs PostgreSQL (SQLite serialises writers anyway)")
    run = MaintenanceRun.objects.create(task=make_task(), trigger="manual", created_at=timezone.now())
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def claim():
        try:
            barrier.wait()
            outcome["token"] = run_claim(run_id=run.pk, worker="w1")
        finally:
            connection.close()

    def cancel():
        try:
            barrier.wait()
            run_cancel(run=run, by=None)
            outcome["cancelled"] = True
        except RunRefused:
            outcome["cancelled"] = False
        finally:
            connection.close()

    threads = [threading.Thread(target=claim), threading.Thread(target=cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    run.refresh_from_db()
    assert (outcome["token"] is not None) != outcome["cancelled"]
    assert run.status == ("cancelled" if outcome["cancelled"] else "running")
