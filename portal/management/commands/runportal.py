"""Run the web server (gunicorn) and the task cluster together; Ctrl-C or SIGTERM stops both.

The same program serves a laptop and a team install: only the settings differ (DEBUG, the
number of web workers, the database and broker)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.startup import banner_lines, served_url, web_command
from portal.startup import web_workers as default_web_workers

STOP_GRACE_S = 15
READY_TIMEOUT_S = 90
MAX_WEB_WORKERS = 64


class Command(BaseCommand):
    help = "Start the web server and the django-q2 worker cluster; stop both on Ctrl-C/SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="[host:]port to serve on")
        parser.add_argument("--no-worker", action="store_true", help="serve the web pages only")
        parser.add_argument("--verbose", action="store_true", help="show every request and every finished task")
        parser.add_argument(
            "--web-workers", type=int, default=None, help="gunicorn worker processes (PORTAL_WEB_WORKERS)"
        )

    def handle(self, *args, addrport, no_worker, verbose, web_workers: int | None, **options):
        host, port = parse_addrport(addrport)
        workers = web_workers if web_workers is not None else default_web_workers()
        if not 1 <= workers <= MAX_WEB_WORKERS:
            raise CommandError(f"web workers (--web-workers / PORTAL_WEB_WORKERS) must be 1 to {MAX_WEB_WORKERS}")
        url = served_url(host, port)
        env = dict(os.environ, PORTAL_SERVED_URL=url)
        if not verbose and "LOG_LEVEL" not in os.environ:
            env["PORTAL_QUIET"] = "true"
        commands = {"web": web_command(host, port, workers=workers, verbose=verbose)}
        if not no_worker:
            commands["worker"] = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
        # Own sessions: a terminal's Ctrl-C reaches only us, and we stop the children in order.
        children = {
            name: subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR, start_new_session=True)
            for name, cmd in commands.items()
        }
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
        signal.signal(signal.SIGINT, lambda *_: stopping.append("SIGINT"))
        exit_code = 0
        if self.wait_ready(host, port, children, stopping):
            for line in banner_lines(url=url, web_workers=workers, worker=not no_worker):
                self.stdout.write(line)
            self.stdout.flush()
        while not stopping:
            died = [name for name, proc in children.items() if proc.poll() is not None]
            if died:
                self.stderr.write(f"{', '.join(died)} stopped unexpectedly; stopping the rest")
                exit_code = 1
                break
            time.sleep(0.2)
        self.stop(children)
        self.stdout.write("Portal stopped.")
        if exit_code:
            raise CommandError("a component exited unexpectedly", returncode=exit_code)

    def wait_ready(self, host, port, children, stopping) -> bool:
        """Print the start-up block only once the web server answers, so its URL works when shown."""
        probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 (probe only)
        probe = f"http://{probe_host}:{port}/health/live"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and not stopping:
            if any(proc.poll() is not None for proc in children.values()):
                return False
            try:
                with urllib.request.urlopen(probe, timeout=2):
                    return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        if not stopping:
            self.stderr.write(f"the web server did not answer {probe} within {READY_TIMEOUT_S}s")
        return False

    def stop(self, children):
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Each child leads its own process group (start_new_session). qcluster's sentinel and
        # workers are grandchildren: one that has not stopped by now would outlive the portal
        # (holding its port, its terminal and its queue), so the rest of each group is killed.
        for proc in children.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


def parse_addrport(addrport: str) -> tuple[str, str]:
    if ":" not in addrport or (addrport.startswith("[") and addrport.endswith("]")):
        addrport = f"127.0.0.1:{addrport}" if ":" not in addrport else f"{addrport}:8000"
    host, port = addrport.rsplit(":", 1)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"addrport: port must be a number from 1 to 65535, got {port!r}")
    return host, port
