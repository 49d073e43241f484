"""Sentry-format events for the error tests, shaped like what the Python SDK sends."""

import uuid


def frame(module: str, function: str, lineno: int = 10, *, in_app: bool = True, **extra) -> dict:
    return {
        "filename": module.replace(".", "/") + ".py",
        "abs_path": "/srv/app/" + module.replace(".", "/") + ".py",
        "module": module,
        "function": function,
        "lineno": lineno,
        "in_app": in_app,
        "context_line": f"    line {lineno}",
        "pre_context": [f"    line {lineno - 2}", f"    line {lineno - 1}"],
        "post_context": [f"    line {lineno + 1}"],
        **extra,
    }


def exception(kind: str = "ValueError", value: str = "bad input", frames: list[dict] | None = None) -> dict:
    frames = frames if frames is not None else [frame("shop.views", "checkout"), frame("shop.cart", "total", 42)]
    return {"type": kind, "value": value, "module": "builtins", "stacktrace": {"frames": frames}}


def event(*exceptions: dict, **fields) -> dict:
    body = {
        "event_id": uuid.uuid4().hex,
        "level": "error",
        "platform": "python",
        "release": "shop@1.0",
        "environment": "production",
        "exception": {"values": list(exceptions) or [exception()]},
    }
    body.update(fields)
    return body


def message_event(text: str, **fields) -> dict:
    return {"event_id": uuid.uuid4().hex, "level": "info", "message": text, **fields}
