"""Sentry envelopes and legacy store bodies: decompression and parsing, with limits.

What the SDKs send (sentry-sdk's `Envelope.serialize_into`, Relay's envelope format):

    {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://key@host/1","sent_at":"..."}\\n
    {"type":"event","length":41,"content_type":"application/json"}\\n
    {"message":"hello world","level":"error"}\\n
    {"type":"attachment","length":10,"filename":"hello.txt"}\\n
    \\xef\\xbb\\xbfHello\\r\\n\\n

A header line of JSON, then items: an item header line (JSON with `type`, and usually `length`)
and a payload of `length` bytes followed by an optional newline; without `length` the payload
runs to the next newline. The body may be gzip, deflate (zlib or raw) or brotli compressed
(Content-Encoding). Decompression is incremental and stops one byte past the limit, so a small
body that would inflate to gigabytes costs at most the limit in memory.

Imports nothing from Django: the views pass the limits in.
"""

import base64
import binascii
import json
import uuid
import zlib
from dataclasses import dataclass, field

import brotli

from portal.lib.surrogates import json_repaired

CHUNK = 64 * 1024
# Items whose payload the portal reads; every other type is accepted and counted.
JSON_ITEMS = frozenset({"event", "transaction"})


class EnvelopeError(Exception):
    """A body the portal refuses; `status` is the HTTP status to answer, `reason` says why."""

    status = 400

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TooLarge(EnvelopeError):
    status = 413


class UnsupportedEncoding(EnvelopeError):
    status = 415


@dataclass(frozen=True)
class Limits:
    envelope_bytes: int  # the decompressed body
    event_bytes: int  # one event or transaction payload
    items: int  # items in one envelope


@dataclass
class Item:
    type: str
    headers: dict
    payload: bytes
    # The parsed JSON object for event and transaction items; None for the others.
    data: dict | None = None


@dataclass
class Envelope:
    headers: dict
    items: list[Item] = field(default_factory=list)

    def of_type(self, kind: str) -> list[Item]:
        return [item for item in self.items if item.type == kind]


# brotli >= 1.2 (a runtime dependency) has output_buffer_limit, so br bodies inflate in bounded steps.
ENCODINGS = ("identity", "gzip", "deflate", "br")


def _inflate(data: bytes, wbits: int, limit: int, name: str) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    out: list[bytes] = []
    size = 0
    try:
        pending = data
        while pending:
            # max_length bounds each step's output; the rest waits in unconsumed_tail.
            chunk = decompressor.decompress(pending, CHUNK)
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the decompressed body exceeds {limit} bytes")
            out.append(chunk)
            pending = decompressor.unconsumed_tail
            if decompressor.eof:
                break
        if not decompressor.eof:
            raise EnvelopeError(f"the {name} body is truncated")
    except zlib.error as exc:
        raise EnvelopeError(f"the body is not valid {name} data ({exc})") from None
    return b"".join(out)


def _looks_like_zlib(data: bytes) -> bool:
    # RFC 1950: compression method 8 in the low nibble, header checksum divisible by 31.
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _unbrotli(data: bytes, limit: int) -> bytes:
    decompressor = brotli.Decompressor()
    try:
        out = decompressor.process(data, output_buffer_limit=limit + 1)
    except brotli.error as exc:
        raise EnvelopeError(f"the body is not valid br data ({exc})") from None
    if len(out) > limit:
        raise TooLarge(f"the decompressed body exceeds {limit} bytes")
    if not decompressor.is_finished():
        raise EnvelopeError("the br body is truncated")
    return out


def decompress(body: bytes, content_encoding: str, *, limit: int) -> bytes:
    """The body decoded as its Content-Encoding says (codings applied last are undone first)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, 16 + zlib.MAX_WBITS, limit, "gzip")
        elif coding == "deflate":
            # HTTP says zlib-wrapped; some clients send raw deflate under the same name.
            wbits = zlib.MAX_WBITS if _looks_like_zlib(body) else -zlib.MAX_WBITS
            body = _inflate(body, wbits, limit, "deflate")
        elif coding == "br":
            body = _unbrotli(body, limit)
        else:
            raise UnsupportedEncoding(
                f"Content-Encoding {coding!r} is not supported (use one of {', '.join(ENCODINGS)})"
            )
    if len(body) > limit:
        raise TooLarge(f"the decompressed body exceeds {limit} bytes")
    return body


def _json_object(raw: bytes, what: str) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"{what} is not valid JSON ({exc})") from None
    if type(value) is not dict:
        raise EnvelopeError(f"{what} must be a JSON object")
    return json_repaired(value, raw)  # a lone surrogate would fail every database write later


def _item_payload(data: bytes, start: int, headers: dict, what: str) -> tuple[bytes, int]:
    """(payload, offset after it) for the item whose header line ended at `start`."""
    length = headers.get("length")
    if length is None:
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        return data[start:end], end + 1
    if type(length) is not int or length < 0:
        raise EnvelopeError(f"{what}: length must be a non-negative integer")
    end = start + length
    if end > len(data):
        raise EnvelopeError(f"{what}: length is {length} but only {len(data) - start} bytes follow")
    # The newline after a payload is optional (the last item may end the body without one).
    if end < len(data) and data[end] != 0x0A:
        raise EnvelopeError(f"{what}: the payload is not followed by a newline")
    return data[start:end], end + 1


def envelope_dsn(data: bytes) -> str:
    """The DSN in the envelope header, read before the rest is parsed; "" when there is none."""
    end = data.find(b"\n")
    try:
        headers = json.loads(data[: len(data) if end < 0 else end])
    except (ValueError, UnicodeDecodeError):
        return ""
    dsn = headers.get("dsn") if type(headers) is dict else None
    return dsn if type(dsn) is str else ""


def parse_envelope(data: bytes, *, limits: Limits) -> Envelope:
    """Parse a decompressed envelope; EnvelopeError names what is wrong and where."""
    if len(data) > limits.envelope_bytes:
        raise TooLarge(f"the envelope exceeds {limits.envelope_bytes} bytes")
    end = data.find(b"\n")
    end = len(data) if end < 0 else end
    if not data[:end].strip():
        raise EnvelopeError("the envelope header is empty (expected a JSON object on the first line)")
    envelope = Envelope(headers=_json_object(data[:end], "the envelope header"))
    offset = end + 1
    while offset < len(data):
        line_end = data.find(b"\n", offset)
        line_end = len(data) if line_end < 0 else line_end
        line = data[offset:line_end]
        if not line.strip():  # blank lines between items (and a trailing newline) carry nothing
            offset = line_end + 1
            continue
        index = len(envelope.items)
        if index >= limits.items:
            raise TooLarge(f"an envelope holds at most {limits.items} items")
        what = f"item {index}"
        headers = _json_object(line, f"{what} header")
        kind = headers.get("type")
        if type(kind) is not str or not kind:
            raise EnvelopeError(f"{what} header: type is required (a string)")
        what = f"item {index} ({kind})"
        payload, offset = _item_payload(data, line_end + 1, headers, what)
        item = Item(type=kind, headers=headers, payload=payload)
        if kind in JSON_ITEMS:
            if len(payload) > limits.event_bytes:
                raise TooLarge(f"{what}: the payload exceeds {limits.event_bytes} bytes")
            item.data = _json_object(payload, f"{what} payload")
        envelope.items.append(item)
    return envelope


def _legacy_encoded(body: bytes, limit: int) -> bytes:
    # Older SDKs (raven) posted base64 of zlib-compressed JSON to the store endpoint.
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError("the store body is not a JSON object") from None
    return _inflate(raw, zlib.MAX_WBITS, limit, "deflate") if _looks_like_zlib(raw) else raw


def parse_store(data: bytes, *, limits: Limits) -> dict:
    """The event of a legacy store request (one JSON object, the event itself)."""
    if len(data) > limits.event_bytes:
        raise TooLarge(f"the event exceeds {limits.event_bytes} bytes")
    stripped = data.strip()
    if stripped[:1] != b"{":
        stripped = _legacy_encoded(stripped, limits.event_bytes)
        if len(stripped) > limits.event_bytes:
            raise TooLarge(f"the event exceeds {limits.event_bytes} bytes")
    return _json_object(stripped, "the store body")


def event_id_of(event: dict, fallback: str = "") -> str:
    """The event's id as 32 lower-case hex digits; a new one when it has none (Sentry assigns one too).

    An id that is not a UUID is refused: it is the idempotency key of the event."""
    raw = event.get("event_id") or fallback
    if not raw:
        return uuid.uuid4().hex
    if type(raw) is not str:
        raise EnvelopeError("event_id must be a string (32 hexadecimal digits)")
    try:
        return uuid.UUID(raw).hex
    except ValueError:
        raise EnvelopeError(f"event_id {raw[:40]!r} is not a UUID (32 hexadecimal digits)") from None
