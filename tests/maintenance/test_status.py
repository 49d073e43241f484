"""Closing and reopening a maintenance task is said once (`MaintenanceTask.status_fields`): the
admin, the API and code health's hand-off all stamp or clear `closed_at` through it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from maintenance.handoff import task_close_for_debt, task_open_for_debt
from maintenance.models import MaintenanceTask

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def said(monkeypatch):
    calls = []
    real = MaintenanceTask.status_fields

    def spy(status, *, now):
        calls.append(status)
        return real(status, now=now)

    monkeypatch.setattr(MaintenanceTask, "status_fields", staticmethod(spy))
    return calls


def _task(status="open"):
    now = timezone.now()
    closed = None if status == "open" else now
    return MaintenanceTask.objects.create(
        kind="refactor", title="Clean /tmp", status=status, closed_at=closed, created_at=now, updated_at=now
    )


def test_status_fields_stamp_closing_and_clear_it_on_reopen():
    assert MaintenanceTask.status_fields("done", now=NOW) == {"status": "done", "closed_at": NOW, "updated_at": NOW}
    assert MaintenanceTask.status_fields("cancelled", now=NOW)["closed_at"] == NOW
    assert MaintenanceTask.status_fields("open", now=NOW) == {"status": "open", "closed_at": None, "updated_at": NOW}


def test_the_api_closes_and_reopens_through_status_fields(api_client, said):
    task = _task()
    client = api_client("admin")
    assert client.patch(f"/api/v1/maintenance/tasks/{task.pk}/", {"status": "done"}).status_code == 200
    assert client.patch(f"/api/v1/maintenance/tasks/{task.pk}/", {"status": "open"}).status_code == 200
    task.refresh_from_db()
    assert said == ["done", "open"] and task.closed_at is None


def test_the_admin_closes_and_reopens_through_status_fields(page_client, said):
    task = _task("done")
    form = {"kind": "refactor", "title": "Clean /tmp", "description": "", "status": "open", "priority": "normal"}
    form |= {"schedule": "manual", "time_of_day": "03:00", "weekday": "0", "day_of_month": "1", "config": "{}"}
    form |= {"timeout_seconds": "1800", "enabled": "on", "requires_approval": "on"}
    response = page_client("admin").post(f"/admin/maintenance/maintenancetask/{task.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    task.refresh_from_db()
    assert said == ["open"] and (task.status, task.closed_at) == ("open", None)


def test_the_codehealth_handoff_closes_and_reopens_through_status_fields(said):
    args = {"fingerprint": "1:f", "title": "Refactor f", "description": "", "severity": "high"}
    task = task_open_for_debt(**args, due_at=NOW + timedelta(days=7), now=NOW)
    assert task_close_for_debt(fingerprint="1:f", now=NOW) is True
    reopened = task_open_for_debt(**args, due_at=NOW + timedelta(days=7), now=NOW + timedelta(hours=1))
    assert said == ["done", "open"]
    assert (reopened.pk, reopened.closed_at, reopened.updated_at) == (task.pk, None, NOW + timedelta(hours=1))
