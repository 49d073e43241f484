"""Reading request bodies of ingest endpoints against an explicit byte limit.

Django's `request.body` answers 400 above DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), which tells a
client "invalid, do not retry" about a valid batch. Ingest endpoints read the stream here
instead, with their own documented limit: a body over it is refused by its Content-Length
before anything is read, and a body sent without one (chunked) is counted while it is read, so
memory stays bounded either way. Callers answer `BodyTooLarge` with 413.
"""

from django.http import HttpRequest


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"the request body exceeds {limit} bytes")
        self.limit = limit


def declared_length(request: HttpRequest) -> int | None:
    """The Content-Length header as a number; None when absent or not a number."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


def _stream(request: HttpRequest):
    # Under WSGI Django reads nothing without a Content-Length (it limits the stream to 0). A
    # server that de-chunks and guarantees end-of-input says so with `wsgi.input_terminated`
    # (gunicorn does); then the raw input is safe to read up to our own limit.
    environ = getattr(request, "environ", {})
    if declared_length(request) is None and environ.get("wsgi.input_terminated") and "wsgi.input" in environ:
        return environ["wsgi.input"]
    return request


def _read_up_to(stream, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def body_read(request: HttpRequest, *, limit: int) -> bytes:
    """The whole body, or BodyTooLarge when it has more than `limit` bytes."""
    length = declared_length(request)
    if length is not None and length > limit:
        raise BodyTooLarge(limit)
    data = _read_up_to(_stream(request), limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(limit)
    return data


def body_prefix(request: HttpRequest, *, limit: int) -> bytes:
    """The first `limit` bytes of the body; the rest is left unread (the server discards it)."""
    return _read_up_to(_stream(request), limit)
