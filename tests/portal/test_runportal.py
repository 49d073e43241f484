import json
import signal
import threading
import time
import urllib.error
import urllib.request

import psutil
import pytest

from tests.support import free_port, manage, manage_process, separate_database

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
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds}s")


def read_until(proc, marker: str, seconds: float = 60) -> str:
    """runportal's output up to the line containing `marker` (its start-up block ends with it)."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    pytest.fail(f"no {marker!r} in runportal's output:\n{''.join(seen)}")


def test_runportal_serves_through_gunicorn_and_stops_both_processes_on_sigterm(tmp_path):
    port = free_port()
    with separate_database(tmp_path) as env, manage_process("runportal", f"127.0.0.1:{port}", env=env) as proc:
        banner = read_until(proc, "Stop      Ctrl-C")  # printed once the server answers
        status, body = get_json(f"http://127.0.0.1:{port}/health/live")
        assert (status, body) == (200, {"status": "ok"})
        children = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(child.cmdline()) for child in children]
        assert any("gunicorn" in c for c in commands) and any("qcluster" in c for c in commands), commands
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        output = proc.stdout.read()
    assert f"URL       http://127.0.0.1:{port}/" in banner
    assert "Portal stopped." in output
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]


def test_start_up_block_shows_the_first_password_once_then_how_to_reset_it(tmp_path):
    with separate_database(tmp_path) as env:
        setup = manage("portal_setup", "--demo", env=env)
        assert setup.returncode == 0, setup.stderr
        password = setup.stdout.split("password: ")[1].split()[0]
        blocks = []
        for _ in range(2):
            port = free_port()
            with manage_process("runportal", str(port), "--no-worker", env=env) as proc:
                blocks.append(read_until(proc, "Stop      Ctrl-C"))
                proc.send_signal(signal.SIGINT)
                tail = proc.stdout.read()
                assert proc.wait(timeout=40) == 0, tail
            # Quiet by default: no request lines from the readiness probe, no gunicorn banner.
            assert "GET /health/live" not in blocks[-1] + tail
            assert "Booting worker" not in blocks[-1] + tail
    first, second = blocks
    assert f"admin / {password}" in first
    assert "printed in this terminal" in first
    assert password not in second
    assert "changepassword admin" in second


@pytest.mark.parametrize("base_url", ["", "https://portal.example.com"])
def test_links_in_notifications_follow_the_served_address_unless_base_url_is_set(tmp_path, httpserver, base_url):
    port = free_port()
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    with separate_database(tmp_path) as env:
        env["PORTAL_BASE_URL"] = base_url
        made = manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token;"
            "from monitoring.alerting.models import Channel;"
            "u = get_user_model().objects.create_superuser('root', 'root@localhost', 'x');"
            f"c = Channel.objects.create(name='hook', kind='webhook', url='{httpserver.url_for('/hook')}');"
            "print(Token.objects.create(user=u).key, c.pk)",
            env=env,
        )
        assert made.returncode == 0, made.stderr
        token, channel_id = made.stdout.strip().splitlines()[-1].split()
        with manage_process("runportal", f"127.0.0.1:{port}", env=env) as proc:
            wait_for(f"http://127.0.0.1:{port}/health/live", proc)
            output = []  # drained, or a full pipe would block the children writing to it
            threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True).start()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/alert-channels/{channel_id}/test/",
                data=b"",
                method="POST",
                headers={"Authorization": f"Token {token}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    assert response.status == 202
            except OSError as exc:
                time.sleep(1)
                pytest.fail(f"{exc}: {''.join(output)}")
            deadline = time.monotonic() + 60
            while not httpserver.log and time.monotonic() < deadline:
                time.sleep(0.3)
    assert httpserver.log, "the worker did not deliver the test notification:\n" + "".join(output)
    payload = json.loads(httpserver.log[0][0].get_data())
    expected = base_url or f"http://127.0.0.1:{port}"
    assert payload["alert"]["url"] == f"{expected}/alerts/"
