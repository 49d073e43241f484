"""Start the portal as a newcomer would: a fresh clone of this commit, `make run` with a free
PORT (runtime dependencies only), then /health/live, log in with the printed admin password,
load the home page, import every module in that venv, and stop with Ctrl-C (SIGINT).

Any step that does not happen fails with the tail of the log."""

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 900  # a first `make run` installs every runtime dependency
STOP_TIMEOUT_S = 60


class FirstRunError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_until_live(base: str, proc, log: Path) -> str:
    """Wait for /health/live, then for the start-up block; return the admin password in it."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FirstRunError(f"`make run` exited with {proc.returncode} before the portal answered")
        match = re.search(r"Log in\s+admin / (\S+)", log.read_text(errors="replace"))
        if match:
            with urllib.request.urlopen(f"{base}/health/live", timeout=5) as response:
                if response.status != 200:
                    raise FirstRunError(f"/health/live answered {response.status}")
            return match.group(1)
        time.sleep(1)
    raise FirstRunError(f"no start-up block with the admin password within {START_TIMEOUT_S}s")


def log_in_and_load_home(base: str, password: str) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login/", timeout=30) as response:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode()).group(1)
    form = urllib.parse.urlencode({"username": "admin", "password": password, "csrfmiddlewaretoken": token})
    request = urllib.request.Request(f"{base}/login/", data=form.encode(), headers={"Referer": f"{base}/login/"})
    with opener.open(request, timeout=30) as response:
        page = response.read().decode()
        if urllib.parse.urlsplit(response.url).path != "/":
            raise FirstRunError(f"logging in as admin ended on {response.url}, not the home page")
    if "Demo shop" not in page or "Log out" not in page:
        raise FirstRunError("the home page after logging in lacks the demo service or the log-out button")


def stop(proc) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        os.killpg(proc.pid, signal.SIGKILL)
        raise FirstRunError(f"`make run` did not stop within {STOP_TIMEOUT_S}s of SIGINT") from exc


def port_closed(port: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.5)
    return False


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-first-run-"))
    clone, log = workdir / "portal", workdir / "make-run.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    subprocess.run(["git", "-c", "advice.detachedHead=false", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # A newcomer's shell: none of CI's database, broker or test settings.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PORTAL_TASKS_SYNC")}
    env["PORT"] = str(port)
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        password = wait_until_live(base, proc, log)
        print(f"portal answered after {time.monotonic() - started:.0f}s on port {port}")
        log_in_and_load_home(base, password)
        print("logged in with the printed password; the home page shows the demo service")
        imports = subprocess.run(
            [str(clone / ".venv/bin/python"), str(clone / ".ci/import_all.py")],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        print(imports.stdout.strip())
        if imports.returncode:
            raise FirstRunError(f"modules that the runtime dependencies cannot import:\n{imports.stderr}")
        stop(proc)
        if not port_closed(port):
            raise FirstRunError(f"port {port} still answers after `make run` stopped")
        if "Portal stopped." not in log.read_text(errors="replace"):
            raise FirstRunError("runportal did not say it stopped")
        print("stopped cleanly with SIGINT")
    except (FirstRunError, OSError, AttributeError) as exc:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        print(f"FIRST RUN FAILED: {exc}\n--- last lines of `make run` ---\n{tail(log)}", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
