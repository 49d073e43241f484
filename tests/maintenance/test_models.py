"""Environment rules and target(), the task kind rename, and the worker's heartbeat."""

import importlib
import os
import sys
import time

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import serializers

from maintenance import runner
from maintenance.executors.base import REGISTRY, Executor, Outcome, Plan
from maintenance.models import Environment, MaintenanceRun, MaintenanceTask, package_manager_detect
from maintenance.runner import run_execute, run_queue
from tests.factories import ServiceFactory
from tests.monitoring.factories import HealthCheckFactory


def test_target_carries_the_environment_as_plain_values(environment, tmp_path):
    checks = [HealthCheckFactory(), HealthCheckFactory()]
    environment.health_checks.set(checks)
    environment.service = ServiceFactory()
    environment.cleanup_roots = [str(tmp_path / "logs")]
    environment.verify_command = ["pytest", "-x"]
    environment.save()
    loaded = Environment.objects.prefetch_related("health_checks").get(pk=environment.pk)
    target = loaded.target()
    assert target.python == sys.executable and target.project_dir == str(tmp_path)
    assert target.package_manager == "pip" and target.env_id == environment.pk
    assert target.cleanup_roots == (str(tmp_path / "logs"),) and target.verify_command == ("pytest", "-x")
    assert target.service_id == environment.service_id and target.repository_id is None
    assert target.health_check_ids == tuple(sorted(c.pk for c in checks))


def test_package_manager_detection(tmp_path):
    assert package_manager_detect(str(tmp_path)) == "pip"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert package_manager_detect(str(tmp_path)) == "pip"
    (tmp_path / "pyproject.toml").write_text("not [toml")
    assert package_manager_detect(str(tmp_path)) == "pip"
    (tmp_path / "poetry.lock").write_text("")
    assert package_manager_detect(str(tmp_path)) == "poetry"


def test_the_interpreter_must_be_an_existing_file(environment, tmp_path):
    for python, message in (
        (str(tmp_path), "no file exists"),
        ("bin/python", "absolute"),
        ("/usr/../usr/bin/python3", "'..'"),
        ("", "non-empty"),
        ("/x\x00y", "NUL"),
        ("/" + "a" * 600, "at most 500"),
    ):
        environment.python = python
        with pytest.raises(ValidationError) as caught:
            environment.clean()
        assert message in caught.value.message_dict["python"][0], python


def test_the_admin_form_names_the_field(page_client, tmp_path):
    form = {"name": "svc", "python": "/no/such/python", "project_dir": str(tmp_path), "package_manager": "auto",
            "cleanup_roots": '["relative/dir"]', "verify_command": "[]"}  # fmt: skip
    response = page_client("admin").post("/admin/maintenance/environment/add/", form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"python", "cleanup_roots"}
    form.update(python=sys.executable, cleanup_roots=f'["{tmp_path}"]')
    assert page_client("admin").post("/admin/maintenance/environment/add/", form).status_code == 302


def test_an_environment_in_use_cannot_be_deleted(make_task, environment):
    from django.db.models import ProtectedError

    make_task()
    with pytest.raises(ProtectedError):
        environment.delete()


def test_the_kind_scaling_is_renamed_scaling_check(db):
    migration = importlib.import_module("maintenance.migrations.0003_kind_scaling_renamed_scaling_check")
    now = timezone.now()
    MaintenanceTask.objects.create(kind="scaling", title="old", created_at=now, updated_at=now)
    MaintenanceTask.objects.create(kind="cleanup", title="other", created_at=now, updated_at=now)
    migration.forwards(apps, None)
    assert sorted(MaintenanceTask.objects.values_list("kind", flat=True)) == ["cleanup", "scaling_check"]
    migration.backwards(apps, None)
    assert sorted(MaintenanceTask.objects.values_list("kind", flat=True)) == ["cleanup", "scaling"]


class Watcher(Executor):
    """Sleeps in apply and looks at its own run row meanwhile, as the page would."""

    kind = "scaling_check"
    label = "Watcher"
    seen: list = []

    class Config(serializers.Serializer):
        pass

    def plan(self, ctx):
        return Plan(summary="one", items=[{"name": "x"}])

    def apply(self, ctx, plan):
        ctx.log("working")
        time.sleep(0.8)
        Watcher.seen.append(MaintenanceRun.objects.values("heartbeat_at", "started_at", "log").get(pk=ctx.run_id))
        return Outcome(status="succeeded", summary="done")


@pytest.mark.django_db(transaction=True)
def test_a_working_run_beats_and_saves_its_log(monkeypatch, environment):
    monkeypatch.setitem(REGISTRY, "scaling_check", Watcher)
    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.2)
    Watcher.seen = []
    now = timezone.now()
    task = MaintenanceTask.objects.create(
        kind="scaling_check", title="w", environment=environment, requires_approval=False, created_at=now,
        updated_at=now,
    )  # fmt: skip
    run = run_queue(task=task, trigger="manual")
    assert run_execute(run_id=run.pk, worker=f"test:{os.getpid()}") == "succeeded"
    (seen,) = Watcher.seen
    assert seen["heartbeat_at"] > seen["started_at"]  # stamped by the heartbeat thread meanwhile
    assert "working" in seen["log"]  # the log is saved while the run goes on
    run.refresh_from_db()
    assert run.heartbeat_at is None and run.status == "succeeded"
