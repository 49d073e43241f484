"""Two workers claiming runs of one task at the same moment, on PostgreSQL, in real threads."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from maintenance.models import MaintenanceRun
from maintenance.runner import run_claim
from tests.support import on_postgres


def claim_in_threads(run_ids: list[int]) -> list[str | None]:
    barrier = threading.Barrier(len(run_ids))
    results: list[str | None] = [None] * len(run_ids)
    errors: list[BaseException] = []

    def worker(index: int, run_id: int):
        try:
            barrier.wait()
            results[index] = run_claim(run_id=run_id, worker=f"w{index}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, r)) for i, r in enumerate(run_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_workers_never_run_two_runs_of_one_task(make_task, attempt):
    if not on_postgres():
        pytest.skip("concurrent claims need PostgreSQL (SQLite serialises writers anyway)")
    task = make_task()
    now = timezone.now()
    # Two queued runs of one task (e.g. an approved plan and a scheduled run): each worker takes one.
    runs = [MaintenanceRun.objects.create(task=task, trigger="manual", created_at=now) for _ in range(2)]
    tokens = claim_in_threads([r.pk for r in runs])
    assert sum(t is not None for t in tokens) == 1
    assert MaintenanceRun.objects.filter(task=task, status="running").count() == 1
    assert MaintenanceRun.objects.filter(task=task, status="queued").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_given_the_same_run_claim_it_once(make_task):
    if not on_postgres():
        pytest.skip("concurrent claims need PostgreSQL (SQLite serialises writers anyway)")
    run = MaintenanceRun.objects.create(task=make_task(), trigger="manual", created_at=timezone.now())
    tokens = claim_in_threads([run.pk] * 4)
    assert sum(t is not None for t in tokens) == 1
    run.refresh_from_db()
    assert run.claim_token == next(t for t in tokens if t)
