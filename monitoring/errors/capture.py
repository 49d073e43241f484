"""capture_exception / capture_message for the portal's own code. Never raises into the caller.

They build the same Sentry-format event an SDK would send (stack with context lines from
linecache, in_app = the project's own files, request data, user) and store it with
`events_store` under the portal's own service (monitoring.hosts.portal_service) unless another
service is given. Scrubbing and size limits are the store's, as for any event.
"""

import linecache
import logging
import socket
import sys
import traceback
import uuid
from pathlib import Path
from types import TracebackType

from django.conf import settings
from django.utils import timezone

from monitoring.errors.normalize import MAX_CONTEXT_LINES, MAX_EXCEPTIONS, MAX_FRAMES, level_of
from monitoring.errors.store import STORED, events_store
from monitoring.hosts import portal_service

log = logging.getLogger(__name__)
MAX_VARS = 20
MAX_REPR = 200
_PROJECT_DIR = str(Path(settings.BASE_DIR).resolve())
_NOT_APP = ("site-packages", "dist-packages", "/.venv/", "/node_modules/")


def in_app(filename: str) -> bool:
    """The project's own code: under its directory and not an installed package (a venv inside it)."""
    path = str(Path(filename).resolve()) if filename and not filename.startswith("<") else ""
    return path.startswith(_PROJECT_DIR) and not any(part in path for part in _NOT_APP)


def _safe_repr(value) -> str:
    try:
        text = repr(value)
    except Exception:  # a __repr__ that fails must not lose the event
        text = f"<{type(value).__name__}: repr failed>"
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 1] + "…"


def _context(filename: str, lineno: int) -> dict:
    lines = {n: linecache.getline(filename, n).rstrip("\n") for n in range(lineno - MAX_CONTEXT_LINES, lineno + 6)}
    return {
        "context_line": lines.get(lineno, ""),
        "pre_context": [lines[n] for n in range(max(1, lineno - MAX_CONTEXT_LINES), lineno)],
        "post_context": [lines[n] for n in range(lineno + 1, lineno + 1 + MAX_CONTEXT_LINES) if lines.get(n)],
    }


def frame_dict(filename: str, lineno: int, function: str, module: str = "", local_vars: dict | None = None) -> dict:
    app = in_app(filename)
    frame = {
        "filename": str(Path(filename).relative_to(_PROJECT_DIR)) if app else filename,
        "abs_path": filename,
        "module": module,
        "function": function,
        "lineno": lineno,
        "in_app": app,
        **_context(filename, lineno),
    }
    if app and local_vars:
        frame["vars"] = {name: _safe_repr(value) for name, value in list(local_vars.items())[:MAX_VARS]}
    return frame


def _frames(tb: TracebackType | None) -> list[dict]:
    frames = []
    for frame, lineno in traceback.walk_tb(tb):
        code = frame.f_code
        frames.append(
            frame_dict(
                code.co_filename, lineno, code.co_qualname, frame.f_globals.get("__name__", ""), dict(frame.f_locals)
            )
        )
    return frames[-MAX_FRAMES:]


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, then its cause/context, …; returned oldest first, as the SDKs order them."""
    chain, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < MAX_EXCEPTIONS:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return chain[::-1]


def exception_values(exc: BaseException, *, mechanism: str = "generic", handled: bool = True) -> list[dict]:
    values = []
    for item in _chain(exc):
        kind = type(item)
        values.append(
            {
                "type": kind.__qualname__,
                "value": str(item) if item.args else "",
                "module": kind.__module__,
                "mechanism": {"type": mechanism, "handled": handled},
                "stacktrace": {"frames": _frames(item.__traceback__)},
            }
        )
    return values


def _request_data(request) -> tuple[dict, dict]:
    """Sentry's `request` and `user` parts from a Django request (best effort: each part may fail)."""
    data: dict = {"method": request.method or ""}
    try:
        data["url"] = request.build_absolute_uri(request.path)
    except Exception:  # DisallowedHost and the like: the path alone still helps
        data["url"] = request.path
    data["query_string"] = request.META.get("QUERY_STRING", "")
    data["headers"] = dict(request.headers)
    data["cookies"] = dict(request.COOKIES)
    data["env"] = {"REMOTE_ADDR": request.META.get("REMOTE_ADDR", "")}
    try:
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            data["data"] = {key: request.POST.getlist(key) for key in request.POST}
    except Exception:  # the body may be unreadable by now
        data["data"] = "[unreadable]"
    user: dict = {"ip_address": request.META.get("REMOTE_ADDR", "")}
    person = getattr(request, "user", None)
    if person is not None and getattr(person, "is_authenticated", False):
        user.update(id=str(person.pk), username=person.get_username())
    return data, user


def _base(level: str, *, request=None, tags=None) -> dict:
    event = {
        "event_id": uuid.uuid4().hex,
        "timestamp": timezone.now().timestamp(),
        "level": level,
        "platform": "python",
        "logger": "portal",
        "server_name": socket.gethostname(),
        "environment": "development" if settings.DEBUG else "production",
        "tags": dict(tags or {}),
        "contexts": {"runtime": {"name": "CPython", "version": sys.version.split()[0]}},
    }
    if request is not None:
        event["request"], event["user"] = _request_data(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.route:
            event["transaction"] = "/" + match.route.lstrip("/")
            event["tags"].setdefault("route", event["transaction"])
    return event


def _send(event: dict, service) -> str | None:
    result = events_store(service=service or portal_service(), events=[event])
    outcome = result.outcomes[0]
    if outcome.status == STORED:
        return outcome.event_id
    if outcome.reason:
        log.warning("captured event refused: %s", outcome.reason)
    return None


def capture_exception(
    exc: BaseException | None = None, *, service=None, request=None, tags=None, mechanism: str = "generic"
) -> str | None:
    """Store `exc` (default: the exception being handled) as an error event; its event_id, or
    None when there was nothing to capture or storing failed (logged, never raised)."""
    try:
        exc = exc if exc is not None else sys.exc_info()[1]
        if exc is None:
            return None
        event = _base("error", request=request, tags=tags)
        event["exception"] = {"values": exception_values(exc, mechanism=mechanism, handled=mechanism == "generic")}
        return _send(event, service)
    except Exception:  # capturing must never break the code that reports an error
        log.exception("capturing an exception failed")
        return None


def capture_message(message: str, *, level: str = "info", service=None, request=None, tags=None) -> str | None:
    """Store a message as an event (grouped by its text, numbers and ids normalized)."""
    try:
        event = _base(level_of(level), request=request, tags=tags)
        event["message"] = str(message)
        return _send(event, service)
    except Exception:
        log.exception("capturing a message failed")
        return None


def _module_of(filename: str) -> str:
    """'/proj/monitoring/tasks.py' -> 'monitoring.tasks'; '…/site-packages/x/y.py' -> 'x.y'."""
    path = filename.replace("\\", "/")
    for root in (_PROJECT_DIR + "/", "site-packages/", "dist-packages/"):
        if root in path:
            path = path.split(root, 1)[1]
            break
    else:
        path = path.rsplit("/", 1)[-1]
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _parse_frame(line: str) -> tuple[str, int, str] | None:
    # '  File "/a/b.py", line 12, in run'
    rest = line.strip().removeprefix("File ")
    if not rest.startswith('"') or '", line ' not in rest:
        return None
    filename, _, tail = rest[1:].partition('", line ')
    number, _, function = tail.partition(", in ")
    return (filename, int(number), function.strip() or "?") if number.isdigit() else None


def exception_values_from_text(text: str) -> list[dict]:
    """Exceptions and frames back from a formatted traceback (what django-q2 keeps of a failed
    task in a worker), oldest first; context lines are read again from the files."""
    values = []
    for section in text.split("Traceback (most recent call last):")[1:]:
        frames, last = [], ""
        for line in section.splitlines():
            parsed = _parse_frame(line) if line.startswith("  File ") else None
            if parsed:
                filename, lineno, function = parsed
                frames.append(frame_dict(filename, lineno, function, _module_of(filename)))
            elif line and not line.startswith((" ", "The above exception", "During handling")):
                last = line  # "module.Type: message", the section's last unindented line
        kind, _, value = last.partition(": ")
        module, _, name = kind.rpartition(".")
        values.append(
            {
                "type": name or "Error",
                "value": value,
                "module": module or "builtins",
                "mechanism": {"type": "django_q", "handled": False},
                "stacktrace": {"frames": frames[-MAX_FRAMES:]},
            }
        )
    return values[-MAX_EXCEPTIONS:]


def capture_task_failure(task: dict, *, exc: BaseException | None = None, service=None) -> str | None:
    """A failed django-q2 task (the task dict the worker passes to its signals) as an error event."""
    try:
        tags = {"task": str(task.get("name") or "")[:200], "func": str(task.get("func") or "")[:200]}
        if exc is not None:
            return capture_exception(exc, service=service, tags=tags, mechanism="django_q")
        event = _base("error", tags=tags)
        event["transaction"] = tags["func"]
        values = exception_values_from_text(str(task.get("result") or ""))
        if values:
            event["exception"] = {"values": values}
        else:
            event["message"] = f"task {tags['func']} failed: {str(task.get('result') or '')[:1000]}"
        return _send(event, service)
    except Exception:
        log.exception("capturing a failed task failed")
        return None
