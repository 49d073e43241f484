"""The dependency_update and security_audit executors run by the runner, as a scheduled or
"run now" task runs them: an Environment on a real venv, a task, run_execute; what the run stores."""

import pytest
from django.utils import timezone

from maintenance.models import Environment, MaintenanceRun, MaintenanceTask
from maintenance.runner import run_execute, run_queue
from tests.maintenance.test_security_audit import advisory_db  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _task(env, kind, config, **fields):
    environment = Environment.objects.create(
        name="shop", python=env.python, project_dir=str(env.project), package_manager="pip", **fields
    )
    now = timezone.now()
    return MaintenanceTask.objects.create(
        kind=kind,
        title=f"{kind} of shop",
        environment=environment,
        config=config,
        requires_approval=False,
        created_at=now,
        updated_at=now,
    )


def _run(task) -> MaintenanceRun:
    run = run_queue(task=task, trigger="manual", enqueue=False)
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def test_a_security_audit_run_stores_its_findings(target_venv, advisory_db):  # noqa: F811
    run = _run(_task(target_venv, "security_audit", {"pip_audit": False}))
    assert run.status == "succeeded", run.log
    assert [v["id"] for v in run.changes["vulnerabilities"]] == ["PYSEC-2026-1", "PYSEC-2026-2"]
    assert run.summary.startswith("2 vulnerabilities")


def test_a_dependency_update_run_upgrades_and_stores_the_packages(target_venv):
    task = _task(target_venv, "dependency_update", {"allow": ["tinybeta"]}, verify_command=["python", "-c", "1"])
    run = _run(task)
    assert run.status == "succeeded", run.log
    assert run.changes["packages"] == [{"name": "tinybeta", "from": "1.0", "to": "1.0.1"}]
    assert run.plan["items"][0]["to"] == "1.0.1"
    assert target_venv.version("tinybeta") == "1.0.1"
