"""The hand-off other apps use: idempotent open, close, reopen; cancelled stays cancelled."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from maintenance.handoff import DebtTask, task_close_for_debt, task_open_for_debt, tasks_open_for_debt
from maintenance.models import MaintenanceTask

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DUE = NOW + timedelta(days=7)

pytestmark = pytest.mark.django_db


def open_task(**overrides):
    args = {
        "fingerprint": "1:abc",
        "title": "Refactor f",
        "description": "a.py:3",
        "severity": "critical",
        "due_at": DUE,
    }
    return task_open_for_debt(**{**args, **overrides}, now=NOW)


def test_open_creates_one_refactor_task_and_is_idempotent():
    task = open_task()
    again = open_task()
    assert task.pk == again.pk
    assert MaintenanceTask.objects.count() == 1
    assert (task.kind, task.status, task.priority, task.due_at, task.source) == (
        "refactor",
        "open",
        "urgent",
        DUE,
        "codehealth",
    )


def test_open_refreshes_title_and_priority():
    open_task()
    task = open_task(title="Refactor f (worse)", severity="high")
    assert (task.title, task.priority) == ("Refactor f (worse)", "high")


def test_close_then_reopen():
    task = open_task()
    assert task_close_for_debt(fingerprint="1:abc", now=NOW) is True
    task.refresh_from_db()
    assert (task.status, task.closed_at) == ("done", NOW)
    assert task_close_for_debt(fingerprint="1:abc", now=NOW) is False  # already closed
    reopened = open_task()
    assert (reopened.pk, reopened.status, reopened.closed_at) == (task.pk, "open", None)


def test_cancelled_task_is_not_reopened():
    task = open_task()
    MaintenanceTask.objects.filter(pk=task.pk).update(status="cancelled")
    assert open_task() is None
    task.refresh_from_db()
    assert task.status == "cancelled"


def test_bulk_open_uses_a_constant_number_of_queries():
    def queries(n: int, prefix: str) -> int:
        items = [DebtTask(f"{prefix}:{i}", f"t{i}", "", "high", DUE) for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            counts = tasks_open_for_debt(items=items, now=NOW)
        assert counts["created"] == n
        return len(ctx)

    # Only INSERT batches grow (SQLite caps a statement at 999 parameters): no per-row queries.
    columns = len([f for f in MaintenanceTask._meta.concrete_fields if not f.primary_key])
    insert_batches = math.ceil(300 / (999 // columns))
    assert queries(300, "big") - queries(3, "small") <= insert_batches
    items = [DebtTask(f"big:{i}", f"t{i}", "", "high", DUE) for i in range(300)]
    assert tasks_open_for_debt(items=items, now=NOW) == {"created": 0, "updated": 0, "reopened": 0}


def test_existing_tasks_are_found_across_lookup_chunks():
    items = [DebtTask(f"r:{i}", f"t{i}", "", "high", DUE) for i in range(1200)]  # more than two chunks
    assert tasks_open_for_debt(items=items, now=NOW)["created"] == 1200
    worse = [DebtTask(i.fingerprint, i.title, i.description, "critical", DUE) for i in items]
    assert tasks_open_for_debt(items=worse, now=NOW) == {"created": 0, "updated": 1200, "reopened": 0}
    assert MaintenanceTask.objects.filter(priority="urgent").count() == 1200
