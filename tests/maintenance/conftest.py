"""Fixtures of the maintenance tests: an environment on this machine and a test-only executor.

The executor is the edge the runner calls; it lets runner, API and page tests drive every path
(plan, approval, apply outcomes, errors, slow runs) without touching a real environment.
"""

import sys
import time

import pytest
from django.utils import timezone
from rest_framework import serializers

from maintenance.executors.base import REGISTRY, Executor, Outcome, Plan
from maintenance.models import Environment, MaintenanceTask

FAKE_KIND = "scaling_check"


class FakeExecutor(Executor):
    kind = FAKE_KIND
    label = "Fake"
    calls: list[str] = []

    class Config(serializers.Serializer):
        items = serializers.IntegerField(default=1, min_value=0, max_value=10)
        fail = serializers.ChoiceField(choices=["", "plan", "apply"], default="", allow_blank=True)
        outcome = serializers.ChoiceField(
            choices=["succeeded", "failed", "partial", "rolled_back", "bogus"], default="succeeded"
        )
        sleep = serializers.FloatField(default=0, min_value=0, max_value=30)

    def plan(self, ctx):
        FakeExecutor.calls.append("plan")
        ctx.log("looking around")
        if ctx.config["fail"] == "plan":
            raise RuntimeError("planning broke")
        items = [{"name": f"pkg{i}", "from": "1.0", "to": "1.1"} for i in range(ctx.config["items"])]
        return Plan(summary=f"{len(items)} change(s)", items=items)

    def apply(self, ctx, plan):
        FakeExecutor.calls.append("apply")
        time.sleep(ctx.config["sleep"])
        if ctx.config["fail"] == "apply":
            raise OSError("disk on fire")
        ctx.log(f"applied {len(plan.items)}")
        return Outcome(
            status=ctx.config["outcome"],
            summary=f"Updated {len(plan.items)} package(s)",
            changes={"packages": plan.items, "bytes_freed": 1024 * len(plan.items)},
        )


@pytest.fixture
def fake_executor(monkeypatch):
    monkeypatch.setitem(REGISTRY, FAKE_KIND, FakeExecutor)
    FakeExecutor.calls = []
    return FakeExecutor


@pytest.fixture
def environment(db, tmp_path):
    return Environment.objects.create(name="app", python=sys.executable, project_dir=str(tmp_path))


@pytest.fixture
def make_task(db, environment, fake_executor):
    def make(**fields):
        now = timezone.now()
        values = {
            "kind": FAKE_KIND,
            "title": "Check app",
            "environment": environment,
            "requires_approval": False,
            "created_at": now,
            "updated_at": now,
        }
        values.update(fields)
        return MaintenanceTask.objects.create(**values)

    return make


# Real virtual environments with tiny wheels, for the dependency update and security audit tests.
from tests.maintenance.envs import base_venv, readonly_venv, target_venv, wheelhouse  # noqa: E402, F401
