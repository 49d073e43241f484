"""Which events are "the same error": the grouping key of a Sentry-format event. Framework-free.

Default key = for each exception of the chain (causes and contexts included, as the SDKs send
them in `exception.values`): its type and its stack reduced to (module, function) per frame —
only in-app frames when the event has any, else all frames. Line numbers, addresses, ids and
lambda/anonymous numbering are left out or normalized, so editing a file above the failing line
keeps the group while a different call path makes another. Without a stack: the type and the
normalized message; without an exception: the normalized message (a log template when the SDK
sent one). The SDK's own `fingerprint` list replaces this, "{{ default }}" expanding to it.
"""

import hashlib
import json

import re2

# Normalized out of messages and names: what differs between two occurrences of one error.
_UUID = re2.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b")
_ADDRESS = re2.compile(r"\b0x[0-9a-fA-F]+\b")
_LONG_HEX = re2.compile(r"\b[0-9a-fA-F]{8,}\b")  # hashes, ids; short words like "cafe" stay
_NUMBER = re2.compile(r"\d+(?:\.\d+)?")
# Generated names: "<lambda>" is stable in Python, but other platforms number them
# ("lambda$3", "$$Lambda$14/0x...", "anon$2", "Foo$1"), and test/temp modules get random suffixes.
_GENERATED_SUFFIX = re2.compile(r"\$+\d+|\$\$Lambda\$[^.]*|\$[0-9a-fA-F]{6,}")
DEFAULT = "{{ default }}"
_DEFAULT_SPELLINGS = {"{{ default }}", "{{default}}"}
MAX_FINGERPRINT_PARTS = 32
MAX_PART_CHARS = 512


def normalize_message(text: str) -> str:
    """'user 1234 not found at 0x7f3a' -> 'user <n> not found at <addr>'."""
    text = _UUID.sub("<uuid>", text)
    text = _ADDRESS.sub("<addr>", text)
    text = _LONG_HEX.sub("<hex>", text)
    return _NUMBER.sub("<n>", text).strip()[:MAX_PART_CHARS]


def normalize_name(name: str) -> str:
    """A module or function name without addresses and generated numbering."""
    name = name or ""
    # Neither pattern matches without "0x" or "$", which most names lack: an RE2 call per frame
    # name was the larger part of the fingerprint's cost.
    if "0x" in name:
        name = _ADDRESS.sub("<addr>", name)
    return _GENERATED_SUFFIX.sub("$", name) if "$" in name else name


def exceptions_of(event: dict) -> list[dict]:
    """The `exception.values` list (Sentry also accepts a bare list), dicts only."""
    exc = event.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else exc
    return [value for value in values or () if isinstance(value, dict)]


def frames_of(exception: dict) -> list[dict]:
    stack = exception.get("stacktrace")
    frames = stack.get("frames") if isinstance(stack, dict) else None
    return [frame for frame in frames or () if isinstance(frame, dict)]


def _frame_module(frame: dict) -> str:
    module = frame.get("module")
    if isinstance(module, str) and module:
        return normalize_name(module)
    # No module (some platforms): the file's name without directories, which differ by install.
    path = frame.get("filename") or frame.get("abs_path") or ""
    path = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return normalize_name(path.rsplit(".", 1)[0] if "." in path else path)


def _frame_part(frame: dict) -> str:
    function = frame.get("function")
    return f"{_frame_module(frame)}.{normalize_name(function if isinstance(function, str) else '?')}"


def _message_of(event: dict) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        # The template ("user %s failed") groups all its renderings; the formatted text would not.
        text = logentry.get("message") or logentry.get("formatted")
        if isinstance(text, str) and text:
            return text
    message = event.get("message")
    if isinstance(message, dict):
        message = message.get("message") or message.get("formatted")
    return message if isinstance(message, str) else ""


def default_parts(event: dict) -> list[str]:
    """The grouping key's parts before hashing (readable, for tests and for showing why)."""
    exceptions = exceptions_of(event)
    if not exceptions:
        return ["message", normalize_message(_message_of(event))]
    has_in_app = any(frame.get("in_app") is True for exc in exceptions for frame in frames_of(exc))
    parts: list[str] = []
    for exc in exceptions:
        kind = exc.get("type")
        parts.append(f"type:{normalize_name(kind) if isinstance(kind, str) and kind else 'Error'}")
        frames = frames_of(exc)
        if has_in_app:
            frames = [frame for frame in frames if frame.get("in_app") is True]
        if frames:
            parts += [_frame_part(frame) for frame in frames]
        elif not has_in_app:
            # No stack anywhere in the chain: the message is all that tells two errors apart.
            value = exc.get("value")
            parts.append(f"value:{normalize_message(value if isinstance(value, str) else '')}")
    return parts


def grouping_parts(event: dict) -> list[str]:
    """The SDK's `fingerprint` when it sent one ("{{ default }}" expanded), else the default."""
    custom = event.get("fingerprint")
    if not isinstance(custom, list) or not custom:
        return default_parts(event)
    parts: list[str] = []
    for item in custom[:MAX_FINGERPRINT_PARTS]:
        text = str(item)
        if text.strip() in _DEFAULT_SPELLINGS:
            parts += default_parts(event)
        else:
            parts.append(f"custom:{text[:MAX_PART_CHARS]}")
    return parts


def fingerprint(event: dict) -> str:
    """SHA-256 hex of the grouping parts: ErrorGroup.fingerprint."""
    encoded = json.dumps(grouping_parts(event), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


def title_and_culprit(event: dict) -> tuple[str, str]:
    """What the list shows: "ValueError: bad input" and where ("app.views in checkout").

    The last exception of the chain is the one that was raised last (the SDKs list causes first)."""
    exceptions = exceptions_of(event)
    culprit = event.get("transaction") if isinstance(event.get("transaction"), str) else ""
    if not exceptions:
        return (_message_of(event).splitlines() or ["<no message>"])[0].strip() or "<no message>", culprit or ""
    last = exceptions[-1]
    kind = last.get("type") if isinstance(last.get("type"), str) else "Error"
    value = last.get("value") if isinstance(last.get("value"), str) else ""
    first_line = (value.splitlines() or [""])[0].strip()
    title = f"{kind}: {first_line}" if first_line else kind
    frames = frames_of(last)
    in_app = [frame for frame in frames if frame.get("in_app") is True] or frames
    if in_app:
        frame = in_app[-1]  # innermost
        culprit = f"{_frame_module(frame)} in {frame.get('function') or '?'}"
    return title, culprit or ""
