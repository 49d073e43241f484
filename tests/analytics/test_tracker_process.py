"""The tracker in processes of its own: flushed at exit, and usable without Django."""

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.support import ROOT, manage, separate_database

pytestmark = pytest.mark.slow

EXIT_SCRIPT = textwrap.dedent(
    """
    import sys
    from analytics.tracker import HttpSink, configure, set_context, track_usage

    # An hour between flushes: only the flush at exit can send these.
    configure(sink=HttpSink(sys.argv[1], key="pk_cli_secret", retries=0), flush_interval=3600)

    @track_usage("cli.run")
    def run(i):
        return i * 2

    with set_context(session_id="batch-7", user_id="ops"):
        print(sum(run(i) for i in range(3)))
    """
)


def python(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, check=False, env=env, cwd=cwd
    )


def test_events_are_sent_at_exit(httpserver):
    httpserver.expect_request("/api/v1/events/", method="POST").respond_with_json({"accepted": 3}, status=201)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = python("-c", EXIT_SCRIPT, httpserver.url_for("/"), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6"
    (request, _), *_ = httpserver.log
    assert request.headers["Authorization"] == "Bearer pk_cli_secret"
    sent = json.loads(request.data)["events"]
    assert [(e["name"], e["session_id"], e["user_id"], e["success"]) for e in sent] == [
        ("cli.run", "batch-7", "ops", True)
    ] * 3


def test_the_client_module_imports_nothing_from_django_or_the_portal(tmp_path):
    check = textwrap.dedent(
        """
        import sys
        import {module} as tracker
        assert callable(tracker.track_usage)
        banned = ("django", "portal", "monitoring", "analytics.models", "rest_framework")
        print(sorted(m for m in sys.modules if m.split(".")[0] in banned or m in banned))
        """
    )
    # As installed with the portal package ...
    done = python("-c", check.format(module="analytics.tracker"), env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    # ... and vendored: the one file copied into another project, imported with isolated paths.
    shutil.copy(ROOT / "analytics" / "tracker.py", tmp_path / "usage_tracker.py")
    done = python(
        "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + check.format(module="usage_tracker")
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


PORTAL_SCRIPT = textwrap.dedent(
    """
    import time
    from analytics import tracker
    from analytics.models import UsageEvent

    tracker.track_event("portal.thread")
    deadline = time.monotonic() + 30
    while not UsageEvent.objects.filter(name="portal.thread").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    print("thread wrote", UsageEvent.objects.filter(name="portal.thread").count())
    tracker.configure(sink=tracker.DEFAULT.sink, flush_interval=3600)
    tracker.track_event("portal.exit")  # only the flush at exit can write this one
    """
)


def test_a_portal_process_writes_its_usage_to_its_database(tmp_path):
    with separate_database(tmp_path) as env:
        env["ANALYTICS_TRACKER_FLUSH_INTERVAL_SECONDS"] = "0.2"
        done = manage("shell", "--no-imports", "-c", PORTAL_SCRIPT, env=env)
        assert done.returncode == 0, done.stderr
        assert "thread wrote 1" in done.stdout
        rows = "sorted(UsageEvent.objects.values_list('name', 'service__slug'))"
        check = f"from analytics.models import UsageEvent\nprint({rows})"
        done = manage("shell", "--no-imports", "-c", check, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[('portal.exit', 'portal'), ('portal.thread', 'portal')]"


def _worker_task(url: str) -> None:
    # What a task queue's worker process does: track something, then end without atexit.
    from analytics.tracker import HttpSink, Tracker, track_event

    tracker = Tracker(HttpSink(url, key="pk_worker", retries=0), flush_interval=3600)
    track_event("worker.task", tracker=tracker)


def test_a_multiprocessing_worker_sends_its_events_when_it_ends(httpserver):
    httpserver.expect_request("/api/v1/events/", method="POST").respond_with_json({"accepted": 1}, status=201)
    child = multiprocessing.get_context("fork").Process(target=_worker_task, args=(httpserver.url_for("/"),))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    (request, _), *_ = httpserver.log
    assert [e["name"] for e in json.loads(request.data)["events"]] == ["worker.task"]
