"""Whether a run waits for an operator: the task's own `requires_approval`, else its kind's default
(changes to code or environments wait; read-only audits and scaling checks do not)."""

import pytest
from django.utils import timezone

from maintenance import tasks as queue_tasks
from maintenance.executors.base import REGISTRY
from maintenance.models import MaintenanceRun, MaintenanceTask
from maintenance.runner import run_execute
from tests.maintenance.conftest import FakeExecutor

KIND_DEFAULTS = [
    ("dependency_update", True),
    ("cleanup", True),
    ("refactor", True),
    ("security_audit", False),
    ("scaling_check", False),
]


def test_every_kind_has_its_default_listed_here():
    assert {kind for kind, _ in KIND_DEFAULTS} == set(MaintenanceTask.Kind.values)


@pytest.mark.parametrize("kind, needed", KIND_DEFAULTS)
def test_a_task_without_a_value_follows_its_kind(kind, needed):
    task = MaintenanceTask(kind=kind, title="t")
    assert task.requires_approval is None and task.approval_needed is needed


@pytest.mark.parametrize("kind, needed", KIND_DEFAULTS)
@pytest.mark.parametrize("explicit", [True, False])
def test_an_explicit_value_wins_over_the_kind(kind, needed, explicit):
    assert MaintenanceTask(kind=kind, title="t", requires_approval=explicit).approval_needed is explicit


def test_a_kind_added_later_waits_for_approval():
    assert MaintenanceTask.approval_default("something_new") is True


@pytest.fixture
def audit_executor(monkeypatch, fake_executor):
    """The test executor stands in for the audit's, so the run needs no real environment."""
    monkeypatch.setitem(REGISTRY, "security_audit", FakeExecutor)
    return fake_executor


def _scheduled_run(make_task, **fields) -> MaintenanceRun:
    task = make_task(kind="security_audit", schedule="daily", requires_approval=None, **fields)
    assert queue_tasks.task_run_scheduled(task.pk).startswith("queued run")
    return MaintenanceRun.objects.get(task=task)


def test_a_scheduled_audit_applies_without_waiting(make_task, audit_executor):
    run = _scheduled_run(make_task)
    assert run.trigger == "schedule"
    assert run_execute(run_id=run.pk) == "succeeded"
    assert audit_executor.calls == ["plan", "apply"]


def test_an_audit_that_asks_for_approval_waits(make_task, audit_executor):
    task = make_task(kind="security_audit", requires_approval=True)
    run = MaintenanceRun.objects.create(task=task, trigger="manual", created_at=timezone.now())
    assert run_execute(run_id=run.pk) == "waiting_approval"
    assert audit_executor.calls == ["plan"]


def test_a_cleanup_without_a_value_waits_for_approval(make_task, monkeypatch, fake_executor):
    monkeypatch.setitem(REGISTRY, "cleanup", FakeExecutor)
    task = make_task(kind="cleanup", requires_approval=None)
    run = MaintenanceRun.objects.create(task=task, trigger="manual", created_at=timezone.now())
    assert run_execute(run_id=run.pk) == "waiting_approval"


def test_the_api_shows_the_rule_in_effect_and_keeps_null(api_client, environment, fake_executor):
    client = api_client("admin")
    payload = {"kind": "scaling_check", "title": "t", "environment": environment.pk}
    body = client.post("/api/v1/maintenance/tasks/", payload, format="json").json()
    assert (body["requires_approval"], body["approval_needed"]) == (None, False)
    patched = client.patch(f"/api/v1/maintenance/tasks/{body['id']}/", {"requires_approval": True}, format="json")
    assert (patched.json()["requires_approval"], patched.json()["approval_needed"]) == (True, True)
    back = client.patch(f"/api/v1/maintenance/tasks/{body['id']}/", {"requires_approval": None}, format="json")
    assert (back.json()["requires_approval"], back.json()["approval_needed"]) == (None, False)


def test_the_admin_form_offers_the_kinds_default(page_client, environment, fake_executor):
    form = {"kind": "cleanup", "title": "Clean", "description": "", "status": "open", "priority": "normal"}
    form |= {"environment": str(environment.pk), "schedule": "manual", "time_of_day": "03:00", "weekday": "0"}
    form |= {"day_of_month": "1", "config": "{}", "timeout_seconds": "1800", "enabled": "on"}
    add = "/admin/maintenance/maintenancetask/add/"
    page = page_client("admin").get(add).content.decode()
    assert "The kind&#x27;s default" in page or "The kind's default" in page
    response = page_client("admin").post(add, form | {"requires_approval": "unknown"})
    assert response.status_code == 302, response.content.decode()[:2000]
    task = MaintenanceTask.objects.get(title="Clean")
    assert task.requires_approval is None and task.approval_needed is True
    change = f"/admin/maintenance/maintenancetask/{task.pk}/change/"
    assert page_client("admin").post(change, form | {"requires_approval": "false"}).status_code == 302
    task.refresh_from_db()
    assert task.requires_approval is False and task.approval_needed is False
