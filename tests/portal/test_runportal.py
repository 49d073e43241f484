import json
import signal
import time
import urllib.error
import urllib.request

import psutil
import pytest

from tests.support import free_port, manage_process, separate_database

pytestmark = pytest.mark.slow


def get_json(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL built here)
        return response.status, json.loads(response.read())


def wait_for(url: str, proc, seconds: float = 60) -> tuple[int, dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"runportal exited early:\n{proc.stdout.read()}")
        try:
            return get_json(url)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds}s")


def test_runportal_serves_and_stops_both_processes_on_sigterm(tmp_path):
    port = free_port()
    with separate_database(tmp_path) as env, manage_process("runportal", f"127.0.0.1:{port}", env=env) as proc:
        status, body = wait_for(f"http://127.0.0.1:{port}/health/live", proc)
        assert (status, body) == (200, {"status": "ok"})
        children = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(child.cmdline()) for child in children]
        assert any("runserver" in c for c in commands) and any("qcluster" in c for c in commands), commands
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        output = proc.stdout.read()
    assert f"http://127.0.0.1:{port}/" in output
    assert "Portal stopped." in output
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
