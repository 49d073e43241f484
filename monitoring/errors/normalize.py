"""An incoming Sentry-format event checked, bounded and scrubbed, ready to store. Framework-free.

Maxima (said once, here; docs/requests-and-errors.md lists them):
- MAX_EVENTS_PER_BATCH events per `events_store` call (the rest are refused, not stored);
- MAX_EXCEPTIONS exceptions per chain (the outermost kept), MAX_FRAMES frames per stack (the
  outermost and innermost kept, like Sentry: the middle of a deep recursion says least),
  MAX_CONTEXT_LINES lines before/after the failing line, MAX_VARS variables per frame;
- MAX_CHARS characters per text value (longer is cut, with "…"), MAX_MESSAGE_CHARS for messages;
- MAX_ITEMS keys/items per object or list and MAX_DEPTH levels of nesting in free-form parts
  (extra, contexts, request data, vars); MAX_TAGS tags; MAX_BREADCRUMBS breadcrumbs (the last).
Text and lists beyond those are cut (an SDK cannot know our limits); parts of the wrong *type*
refuse the event, with the field named.
"""

import hashlib
from datetime import UTC, datetime, timedelta

from monitoring.errors.fingerprint import exceptions_of, fingerprint, title_and_culprit
from monitoring.errors.scrub import (
    QUERY_KEY,
    SECRET_KEY,
    _scrub_request,
    any_may_hold_credentials,
    is_secret_name,
    key_kind,
    masked,
    scrub_query_value,
    scrub_text,
    scrub_value,
)

MAX_EVENTS_PER_BATCH = 1000
MAX_EXCEPTIONS = 10
MAX_FRAMES = 200
MAX_CONTEXT_LINES = 5
MAX_VARS = 50
MAX_CHARS = 1024
MAX_MESSAGE_CHARS = 8192
MAX_ITEMS = 100
MAX_DEPTH = 5
MAX_TAGS = 50
MAX_TAG_KEY = 32
MAX_TAG_VALUE = 200
MAX_BREADCRUMBS = 50
FUTURE_SKEW = timedelta(minutes=1)
LEVELS = ("debug", "info", "warning", "error", "fatal")
_LEVEL_ALIASES = {"warn": "warning", "critical": "fatal", "log": "info", "exception": "error"}
_HEX = frozenset("0123456789abcdef")
_FRAME_TEXT = ("filename", "abs_path", "module", "function", "package", "platform", "context_line")


class Refused(ValueError):
    """The event cannot be stored; `field` names the part that is wrong."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def cut(text, limit: int = MAX_CHARS) -> str:
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bound(value, depth: int = 0):
    """Free-form JSON cut to MAX_ITEMS per container, MAX_DEPTH levels, MAX_CHARS per string."""
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= MAX_DEPTH:
        return cut(repr(value), 80)
    if isinstance(value, dict):
        return {cut(key, 200): bound(item, depth + 1) for key, item in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, list | tuple):
        return [bound(item, depth + 1) for item in value[:MAX_ITEMS]]
    return cut(repr(value))


_PLAIN = frozenset({int, float, bool, type(None)})


def clean(value, depth: int = 0):
    """`scrub_value(bound(value, depth))` in one pass, without the intermediate copy.

    Preparing an event is the ingest endpoint's largest cost and most of an event is frames and
    free-form parts, so bounding and scrubbing walk them once, with exact type tests first.
    tests/errors/test_scrub.py checks it against the two passes it replaces."""
    kind = type(value)
    if kind is str:
        return scrub_text(value if len(value) <= MAX_CHARS else cut(value))
    if kind in _PLAIN:
        return value
    if depth >= MAX_DEPTH or (kind is not dict and kind is not list and kind is not tuple):
        return scrub_value(bound(value, depth))
    if kind is dict:
        return _clean_dict(value, depth + 1, 200, MAX_ITEMS)
    out = []
    for item in value[:MAX_ITEMS]:
        kind = type(item)
        if kind is str:
            out.append(scrub_text(item if len(item) <= MAX_CHARS else cut(item)))
        elif kind in _PLAIN:
            out.append(item)
        elif (kind is list or kind is tuple) and len(item) == 2 and depth + 1 < MAX_DEPTH:
            # Headers, tags and query strings also come as [name, value] pairs. A name that is no
            # string is judged as bounding leaves it (a container past the depth limit is text).
            name = item[0] if type(item[0]) is str else bound(item[0], depth + 2)
            if type(name) is str and len(name) > MAX_CHARS:
                name = cut(name)
            if type(name) is str and name and is_secret_name(name):
                out.append([name, masked(bound(item[1], depth + 2))])
            else:
                out.append(clean(item, depth + 1))
        else:
            out.append(clean(item, depth + 1))
    return out


def _bounded_to_repr(value, depth: int) -> bool:
    """Whether bound(value, depth) is the text of its repr: a container past the depth limit, or
    an object that is no JSON type."""
    if isinstance(value, str | bool | int | float) or value is None:
        return False
    return depth >= MAX_DEPTH or not isinstance(value, dict | list | tuple)


def _clean_dict(value: dict, depth: int, key_limit: int, items: int) -> dict:
    """A dict's first `items` entries, keys cut to `key_limit`, values bounded from `depth`, scrubbed."""
    out = {}
    pairs = value.items() if len(value) <= items else list(value.items())[:items]
    for key, item in pairs:
        if type(key) is not str or len(key) > key_limit:
            key = cut(key, key_limit)
        named = key_kind(key) if key else 0
        if named == SECRET_KEY:
            out[key] = masked(bound(item, depth))  # the key decides: the value is not looked at
            continue
        kind = type(item)
        if kind is str:
            if len(item) > MAX_CHARS:
                item = cut(item)
            out[key] = scrub_query_value(item) if named == QUERY_KEY else scrub_text(item)
        elif kind in _PLAIN:
            out[key] = item
        elif named == QUERY_KEY and _bounded_to_repr(item, depth):
            # Bounding makes this one text (its repr), which under a key like QUERY_STRING is
            # scrubbed as a query string, as bounding and then scrubbing would.
            out[key] = scrub_query_value(bound(item, depth))
        else:
            out[key] = clean(item, depth)
    return out


def _text(event: dict, name: str, limit: int) -> str:
    value = event.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Refused(name, "must be text")
    return cut(value, limit)


def _event_id(event: dict) -> str:
    raw = event.get("event_id")
    if raw is None:
        return ""  # the store assigns one
    text = raw.replace("-", "").lower() if isinstance(raw, str) else ""
    if len(text) != 32 or not set(text) <= _HEX:
        raise Refused("event_id", "must be 32 hexadecimal digits (a UUID)")
    return text


def _timestamp(event: dict, now: datetime) -> datetime:
    raw = event.get("timestamp")
    if raw is None or raw == "":
        return now
    try:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            when = datetime.fromtimestamp(raw, tz=UTC)
        elif isinstance(raw, str):
            when = datetime.fromisoformat(raw)
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        else:
            raise TypeError
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise Refused("timestamp", "must be seconds since 1970 or an RFC 3339 date") from exc
    # A client clock ahead of ours would keep the group "last seen" in the future.
    return min(when, now + FUTURE_SKEW)


def level_of(raw, field: str = "level") -> str:
    if raw is None or raw == "":
        return "error"
    level = _LEVEL_ALIASES.get(str(raw).lower(), str(raw).lower()) if isinstance(raw, str) else None
    if level not in LEVELS:
        raise Refused(field, f"must be one of {', '.join(LEVELS)}")
    return level


def _lines(value, where: tuple[str, int], part: str) -> list[str]:
    """Context lines, bounded (scrubbed by the caller: they are code, but may hold a credential)."""
    if value is None:
        return []
    if type(value) is not list and not isinstance(value, list):
        raise Refused(f"{_frame_field(where)}.{part}", "must be a list of lines")
    # Inline length test: most lines fit, and this runs ~300 times per 30-frame event.
    return [line if type(line) is str and len(line) <= 300 else cut(line, 300) for line in value[-MAX_CONTEXT_LINES:]]


def _frame_field(where: tuple[str, int]) -> str:
    # Only built for a refusal: formatting it for each of ~30 frames cost more than the check.
    return f"{where[0]}.stacktrace.frames[{where[1]}]"


def _frame(frame, where: tuple[str, int]) -> dict:
    """One frame bounded and scrubbed (`where`: the exception's field and the frame's index). Its
    own keys are fixed names, none secret-looking (a test holds that), so only the values are
    looked at.

    A frame's text (names, paths, ~11 source lines) is tested for credentials in one go: most
    frames hold none, and one test of them all costs less than a call per string."""
    if type(frame) is not dict and not isinstance(frame, dict):
        raise Refused(_frame_field(where), "must be an object")
    out = {}
    get = frame.get
    for name in _FRAME_TEXT:
        value = get(name)
        if value is not None:
            out[name] = value if type(value) is str and len(value) <= 300 else cut(value, 300)
    texts = list(out.values())
    value = get("lineno")
    if type(value) is int:
        out["lineno"] = value
    value = get("colno")
    if type(value) is int:
        out["colno"] = value
    out["in_app"] = get("in_app") is True
    pre, post = get("pre_context"), get("post_context")
    # _lines written out for the usual lists of short lines (it refuses the rest with the field).
    if type(pre) is list:
        pre = [line if type(line) is str and len(line) <= 300 else cut(line, 300) for line in pre[-MAX_CONTEXT_LINES:]]
    else:
        pre = _lines(pre, where, "pre_context")
    if type(post) is list:
        post = [line if type(line) is str and len(line) <= 300 else cut(line, 300) for line in post[:MAX_CONTEXT_LINES]]
    else:
        post = _lines(post[:MAX_CONTEXT_LINES] if isinstance(post, list) else post, where, "post_context")
    if any_may_hold_credentials(texts + pre + post):
        for name in _FRAME_TEXT:
            if name in out:
                out[name] = scrub_text(out[name])
        pre, post = [scrub_text(line) for line in pre], [scrub_text(line) for line in post]
    out["pre_context"], out["post_context"] = pre, post
    variables = get("vars")
    if isinstance(variables, dict):
        out["vars"] = _clean_dict(variables, 2, 100, MAX_VARS)
    return out


def _exception(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise Refused(field, "must be an object")
    out = {
        name: scrub_text(cut(value[name], MAX_MESSAGE_CHARS if name == "value" else 300))
        for name in ("type", "value", "module")
        if value.get(name) is not None
    }
    if isinstance(value.get("mechanism"), dict):
        out["mechanism"] = clean(value["mechanism"], 3)
    stack = value.get("stacktrace")
    if stack is not None:
        frames = stack.get("frames") if isinstance(stack, dict) else None
        if not isinstance(frames, list):
            raise Refused(f"{field}.stacktrace.frames", "must be a list")
        if len(frames) > MAX_FRAMES:
            half = MAX_FRAMES // 2
            frames = frames[:half] + frames[-half:]
        out["stacktrace"] = {"frames": [_frame(frame, (field, i)) for i, frame in enumerate(frames)]}
    return out


def _exceptions(event: dict) -> list[dict]:
    raw = event.get("exception")
    if raw is None:
        return []
    values = raw.get("values") if isinstance(raw, dict) else raw
    if not isinstance(values, list):
        raise Refused("exception.values", "must be a list")
    values = values[-MAX_EXCEPTIONS:]
    return [_exception(value, f"exception.values[{i}]") for i, value in enumerate(values)]


def _tags(event: dict) -> dict[str, str]:
    raw = event.get("tags")
    if raw is None:
        return {}
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = []
        for i, pair in enumerate(raw):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise Refused(f"tags[{i}]", "must be a [key, value] pair")
            pairs.append(tuple(pair))
    else:
        raise Refused("tags", "must be an object or a list of [key, value] pairs")
    bounded = {
        cut(key, MAX_TAG_KEY): cut("" if value is None else value, MAX_TAG_VALUE) for key, value in pairs[:MAX_TAGS]
    }
    return _clean_dict(bounded, 0, MAX_TAG_KEY, MAX_TAGS)


def _object(event: dict, name: str) -> dict:
    """A free-form part, bounded and scrubbed."""
    value = event.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused(name, "must be an object")
    return clean(value)


def _bounded_object(event: dict, name: str) -> dict:
    value = event.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused(name, "must be an object")
    return bound(value)


def _message(event: dict) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        text = logentry.get("formatted") or logentry.get("message")
        if isinstance(text, str) and text:
            return text
    message = event.get("message")
    if isinstance(message, dict):
        message = message.get("formatted") or message.get("message")
    if isinstance(message, str):
        return message
    if message is not None:
        raise Refused("message", "must be text or an object with `formatted`")
    return ""


def _breadcrumbs(event: dict) -> list:
    raw = event.get("breadcrumbs")
    values = raw.get("values") if isinstance(raw, dict) else raw
    return clean(values[-MAX_BREADCRUMBS:]) if isinstance(values, list) else []


def user_hash(user: dict) -> str:
    """Who was affected, as a hash (the same person across events), or '' when nobody is known."""
    for key in ("id", "email", "username", "ip_address"):
        value = user.get(key)
        if value not in (None, ""):
            return hashlib.sha256(f"{key}:{value}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return ""


def event_normalize(event, *, now: datetime) -> dict:
    """The stored form of one event (fields of ErrorEvent plus the grouping results). Raises Refused."""
    if not isinstance(event, dict):
        raise Refused("event", "must be an object")
    fingerprint_field = event.get("fingerprint")
    if fingerprint_field is not None and not isinstance(fingerprint_field, list):
        raise Refused("fingerprint", "must be a list of strings")
    event_id, timestamp = _event_id(event), _timestamp(event, now)
    request, user = _bounded_object(event, "request"), _bounded_object(event, "user")
    # Bounded and scrubbed in the same pass, part by part (scrub.scrub_event's rules; the event's
    # own top-level keys are fixed names, none secret-looking).
    clean = {
        "level": level_of(event.get("level")),
        "platform": scrub_text(_text(event, "platform", 32)),
        "logger": scrub_text(_text(event, "logger", 128)),
        "transaction": scrub_text(_text(event, "transaction", 200)),
        "server_name": scrub_text(_text(event, "server_name", 128)),
        "release": scrub_text(_text(event, "release", 200)),
        "environment": scrub_text(_text(event, "environment", 64)),
        "message": scrub_text(cut(_message(event), MAX_MESSAGE_CHARS)),
        "logentry": _object(event, "logentry"),
        "exception": {"values": _exceptions(event)},
        "tags": _tags(event),
        "user": scrub_value(user),
        "request": _scrub_request(request),  # cookies, query strings and form bodies: small, its own rules
        "contexts": _object(event, "contexts"),
        "extra": _object(event, "extra"),
        "sdk": _object(event, "sdk"),
        "breadcrumbs": _breadcrumbs(event),
        "fingerprint": [scrub_text(cut(part, 512)) for part in (fingerprint_field or [])[:32]],
    }
    users = user_hash(user)  # before scrubbing: an id is not a secret, but is hashed anyway
    title, culprit = title_and_culprit(clean)
    if not exceptions_of(clean) and not clean["message"] and not clean["logentry"]:
        raise Refused("exception", "an event needs an exception or a message")
    return {
        "event": clean,
        "event_id": event_id,
        "time": timestamp,
        "fingerprint": fingerprint(clean),
        "title": cut(title, 300),
        "culprit": cut(culprit, 300),
        "user_hash": users,
        # What grouping reads besides the above (store.py), also for items without "event" (the inbox's).
        "level": clean["level"],
        "release": clean["release"],
    }
