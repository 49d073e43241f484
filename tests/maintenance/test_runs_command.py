"""`manage.py maintenance run TASK [--plan]` and `manage.py maintenance list`."""

import os
import pty
import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from maintenance.models import MaintenanceRun
from tests.support import ROOT, manage, manage_command, separate_database


def command(*args):
    out = StringIO()
    call_command("maintenance", *args, stdout=out)
    return out.getvalue()


def test_run_carries_the_task_out_in_this_process(make_task, task_queue, django_capture_on_commit_callbacks):
    task = make_task(title="Check", config={"items": 2})
    with django_capture_on_commit_callbacks(execute=True):
        out = command("run", str(task.pk))
    assert "Planning…" in out and "Applying…" in out and "applied 2" in out
    assert "Succeeded: Updated 2 package(s)" in out
    assert MaintenanceRun.objects.get(task=task).status == "succeeded"
    assert task_queue.queue_size() == 0  # nothing handed to the workers


def test_run_by_title_with_plan_only_changes_nothing(make_task, fake_executor):
    make_task(title="Check app")
    out = command("run", "Check app", "--plan")
    assert "Planned only: 1 change(s)" in out and fake_executor.calls == ["plan"]


def test_a_task_that_needs_approval_stops_after_its_plan(make_task):
    task = make_task(requires_approval=True)
    out = command("run", str(task.pk))
    assert "Waiting for approval" in out and "An operator approves" in out
    assert MaintenanceRun.objects.get(task=task).status == "waiting_approval"


@pytest.mark.parametrize(
    "config, code", [({"outcome": "rolled_back"}, 1), ({"fail": "apply"}, 1), ({"outcome": "partial"}, 1)]
)
def test_a_run_that_does_not_succeed_exits_non_zero(make_task, config, code):
    task = make_task(config=config)
    with pytest.raises(CommandError) as caught:
        command("run", str(task.pk))
    assert caught.value.returncode == code


def test_a_run_that_cannot_start_exits_2(make_task):
    task = make_task()
    command("run", str(task.pk), "--plan")
    MaintenanceRun.objects.filter(task=task).update(status="running")
    for ref in (str(task.pk), "no such task", "99999999999999999999"):
        with pytest.raises(CommandError) as caught:
            command("run", ref)
        assert caught.value.returncode == 2


class Terminal(StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_run_shows_a_progress_bar(make_task):
    out = Terminal()
    call_command("maintenance", "run", str(make_task(config={"items": 3}).pk), stdout=out)
    text = out.getvalue()
    assert "━" in text and "Succeeded" in text, text
    assert "Done" in text, text
    assert "applied 3" in text, text


def test_list_shows_schedules_next_runs_and_last_results(make_task):
    task = make_task(title="Nightly check", schedule="daily")
    command("run", str(task.pk))
    out = command("list")
    assert "Nightly check" in out and "Every day at 03:00 UTC" in out and "succeeded" in out
    assert out.splitlines()[0].split()[:3] == ["ID", "KIND", "TITLE"]


SETUP = """
import sys
from django.utils import timezone
from maintenance.models import Environment, MaintenanceTask
env = Environment.objects.create(name="app", python=sys.executable, project_dir="{root}", cleanup_roots=["{root}"])
now = timezone.now()
task = MaintenanceTask.objects.create(kind="cleanup", title="Clean app", environment=env, requires_approval=False,
                                      created_at=now, updated_at=now)
print(task.pk)
"""


@pytest.mark.slow
def test_on_a_terminal_the_real_command_shows_progress_and_cleans(tmp_path):
    """A real process on a pseudo-terminal, with the real cleanup executor on a temp root."""
    root = tmp_path / "app"
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x" * 100)
    (root / "pkg" / "m.py").write_text("x = 1\n")
    with separate_database(tmp_path) as env:
        created = manage("shell", "-c", SETUP.format(root=root), env=env)
        assert created.returncode == 0, created.stderr
        task_id = created.stdout.strip().splitlines()[-1]
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            manage_command("maintenance", "run", task_id),
            env={**env, "COLUMNS": "100", "TERM": "xterm"},
            cwd=ROOT,
            stdin=follower,
            stdout=follower,
            stderr=follower,
        )
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=120) == 0, output.decode(errors="replace")
        os.close(leader)
    text = output.decode(errors="replace")
    assert "Done" in text and "━" in text  # rich's bar
    assert "Succeeded" in text
    assert not (root / "pkg" / "__pycache__").exists() and (root / "pkg" / "m.py").exists()
