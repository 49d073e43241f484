"""What runportal starts and what it tells the person who started it."""

import os
import socket
import sys

from django.conf import settings
from django.contrib.auth import get_user_model

from portal.firstrun import first_password_take

WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 (names, not a bind)
RULE = "─" * 64


def served_url(host: str, port: str) -> str:
    """The address people reach this server at; links in emails and webhooks use it unless
    PORTAL_BASE_URL says otherwise. A wildcard bind is served under this machine's name."""
    if host in WILDCARD_HOSTS:
        host = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def web_workers() -> int:
    return settings.PORTAL_WEB_WORKERS


def web_command(host: str, port: str, *, workers: int, verbose: bool) -> list[str]:
    bind_host = "0.0.0.0" if host == "" else host  # noqa: S104 (the user asked for every interface)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        "--bind",
        f"{bind_host}:{port}",
        "--workers",
        str(workers),
        # Threads keep a slow request (a chart over 30 days) from blocking the rest of a worker.
        "--worker-class",
        "gthread",
        "--threads",
        str(settings.PORTAL_WEB_THREADS),
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        # Several portals on one machine (tests, a second checkout) must not share gunicorn's
        # per-user control socket.
        "--no-control-socket",
        "--log-level",
        "info" if verbose else "warning",
    ]
    if verbose:
        command += ["--access-logfile", "-"]
    return command


def mail_destination() -> str:
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    if backend == "console":
        return "printed in this terminal (set EMAIL_URL to send it)"
    if backend == "smtp":
        return f"sent through {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if backend == "filebased":
        return f"written to files in {settings.EMAIL_FILE_PATH}"
    return f"handled by {settings.EMAIL_BACKEND}"


def login_lines() -> list[str]:
    password = first_password_take()
    if password:
        return [
            f"  Log in    admin / {password}",
            "            (shown on this first start only; change it under Admin → Users)",
        ]
    admins = list(get_user_model().objects.filter(is_superuser=True).values_list("username", flat=True)[:3])
    if not admins:
        return ["  Log in    no admin yet: python manage.py createsuperuser"]
    return [
        f"  Log in    {', '.join(admins)} (password set on first start)",
        f"            forgot it? python manage.py changepassword {admins[0]}",
    ]


def banner_lines(*, url: str, web_workers: int, worker: bool) -> list[str]:
    lines = [RULE, "  Operations portal is running", "", f"  URL       {url}/"]
    explicit = os.environ.get("PORTAL_BASE_URL", "").rstrip("/")
    if explicit and explicit != url:
        lines.append(f"  Links     {explicit}/ in emails and webhooks (PORTAL_BASE_URL)")
    lines += login_lines()
    lines.append(f"  Mail      {mail_destination()}")
    broker = "Redis" if settings.REDIS_URL else "the database"
    workers = (
        f"{settings.Q_CLUSTER['workers']} task workers ({broker} queue)" if worker else "not started (--no-worker)"
    )
    lines.append(f"  Workers   {web_workers} web, {workers}")
    lines.append("  Stop      Ctrl-C")
    lines.append("  Logs      warnings and errors only; --verbose or LOG_LEVEL=INFO shows every request and task")
    lines.append(RULE)
    return lines
