"""Run the web server and the task cluster together; Ctrl-C or SIGTERM stops both."""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

STOP_GRACE_S = 15


class Command(BaseCommand):
    help = "Start the web server and the django-q2 worker cluster; stop both on Ctrl-C/SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="[host:]port to serve on")
        parser.add_argument("--no-worker", action="store_true", help="serve the web pages only")

    def handle(self, *args, addrport, no_worker, **options):
        if ":" not in addrport:
            addrport = f"127.0.0.1:{addrport}"
        host, port = addrport.rsplit(":", 1)
        if not port.isdigit():
            raise CommandError(f"addrport: port must be a number, got {port!r}")
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands = {"web": [*manage, "runserver", "--noreload", addrport]}
        if not no_worker:
            commands["worker"] = [*manage, "qcluster"]
        # Own sessions: a terminal's Ctrl-C reaches only us, and we stop the children in order.
        children = {name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in commands.items()}
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
        signal.signal(signal.SIGINT, lambda *_: stopping.append("SIGINT"))
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 (display only)
        self.stdout.write(self.style.SUCCESS(f"Portal running at http://{shown_host}:{port}/"))
        self.stdout.write("Log in with the admin user (make run printed its password on first setup;")
        self.stdout.write("`python manage.py changepassword admin` sets a new one). Ctrl-C stops everything.")
        self.stdout.flush()
        exit_code = 0
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
