"""Feature-usage tracking for Python code: `@track_usage`, `track()`, `track_event()`.

Vendorable: this module needs only the Python standard library (3.11+) and imports nothing
from Django or the portal, so another service can copy this one file (or install the portal
package) and send its usage to the portal's events API. The guide, with every option, bound
and cost: docs/analytics.md, "Tracking usage from Python".

    configure(sink=HttpSink("https://portal.example.com", key="pk_..."))

    @track_usage("reports.export")       # also coroutines, generators, async generators
    def export(report): ...

    with set_context(session_id=session, user_id=str(user_id)):   # per thread / asyncio task
        export(report)

A call records its name, kind, start time, `duration_ms` (to the end of the iteration for
generators), `success` and `error_type` (the exception propagates unchanged), the session and
user from `set_context()`; with `cpu=True` the thread's CPU time (a system call per read, so
off by default) and with `memory=True` the change in memory traced by `tracemalloc` (started
for the whole process on first use and left on: every allocation gets slower).

Why the hot path looks the way it does: a call reads `perf_counter_ns()` twice, looks up one
context variable and appends a tuple to a `collections.deque` (thread-safe without a lock).
Wall-clock times and dicts are made per batch, at flush. The buffer is bounded: when it is
full new events are dropped and counted (`Tracker.dropped`); the caller never blocks or fails.
A daemon thread flushes by interval and by size, `atexit` flushes what is left, and a sink
that fails only counts its loss (`Tracker.failed`). `HttpSink` retries with backoff and
jitter, with one Idempotency-Key per batch and an `event_id` per event, so a retried batch is
never stored twice. Inside the portal, `analytics.tracker_db.DatabaseSink` writes directly.
"""

from __future__ import annotations

import atexit
import collections
import functools
import http.client
import inspect
import itertools
import json
import logging
import multiprocessing.util
import os
import random
import secrets
import threading
import time
import tracemalloc
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextvars import ContextVar, Token

__all__ = [
    "DEFAULT",
    "HttpSink",
    "MemorySink",
    "SinkRejected",
    "Tracker",
    "configure",
    "get_context",
    "set_context",
    "track",
    "track_event",
    "track_usage",
]

logger = logging.getLogger("analytics.tracker")

KINDS = ("feature", "api_call", "error", "custom")
# The portal's column sizes: longer values are cut here rather than refused by the server.
MAX_NAME = 200
MAX_ERROR_TYPE = 200
MAX_SESSION_ID = 64
MAX_USER_ID = 128

_perf = time.perf_counter_ns
_cpu = time.thread_time_ns

# --- context: the session and user of whatever runs now ------------------------------------

# One variable holding both ids: one lookup per call instead of two.
_CONTEXT: ContextVar[tuple[str, str]] = ContextVar("analytics_usage_context", default=("", ""))


class ContextToken:
    """What `set_context()` returns: `reset()` it, or use it as a context manager."""

    __slots__ = ("_token",)

    def __init__(self, token: Token):
        self._token = token

    def reset(self) -> None:
        _CONTEXT.reset(self._token)

    def __enter__(self) -> ContextToken:
        return self

    def __exit__(self, *exc) -> None:
        self.reset()


def set_context(*, session_id: str = "", user_id: str = "") -> ContextToken:
    """Set the session and user recorded on events of this thread / asyncio task from now on."""
    return ContextToken(_CONTEXT.set((str(session_id)[:MAX_SESSION_ID], str(user_id)[:MAX_USER_ID])))


def get_context() -> tuple[str, str]:
    """(session_id, user_id) as set by `set_context()`, ("", "") when unset."""
    return _CONTEXT.get()


# --- the tracker: a bounded buffer and its flushing -----------------------------------------

# An event as buffered: made per call, so a tuple (a dict would cost ~3x more to build):
# (start perf_counter_ns, duration_ns | None, cpu_ns | None, success, error_type,
#  memory delta | None, (session_id, user_id), name, kind, metadata | None)


class SinkRejected(Exception):
    """The receiver refused the batch for good (bad key, invalid events): retrying cannot help."""


class Tracker:
    """A bounded event buffer flushed into a sink by size, by interval and at exit."""

    def __init__(self, sink=None, **options):
        """Options as for configure(); defaults: limit 100,000 events, flush_size 1000,
        flush_interval 10 s, batch_size 1000, autostart (the thread on the first event)."""
        self.sink = None
        self._buffer: collections.deque = collections.deque()
        self._flush_lock = threading.Lock()  # one flush at a time: thread, atexit, manual
        self._count_lock = threading.Lock()  # only on the rare paths (drops, failures)
        self._start_lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._start_pending = False
        self._fast_limit = 0
        self._atexit_registered = False
        self._id_prefix = secrets.token_hex(8) + "-"
        self._sequence = itertools.count(1)
        self.dropped = 0  # events refused because the buffer was full
        self.failed = 0  # events a sink could not deliver
        self.sent = 0  # events a sink accepted
        defaults = {"limit": 100_000, "flush_size": 1000, "flush_interval": 10.0, "batch_size": 1000}
        self.configure(sink=sink, **{**defaults, **options})

    def configure(
        self,
        *,
        sink=None,
        limit: int | None = None,
        flush_size: int | None = None,
        flush_interval: float | None = None,
        batch_size: int | None = None,
        autostart: bool = True,
    ) -> Tracker:
        """Set the sink (None turns recording off) and limits; the thread starts on the next event."""
        if limit is not None:
            self.limit = _bounded("limit", limit, 1, 10_000_000)
        if flush_size is not None:
            self.flush_size = _bounded("flush_size", flush_size, 1, 10_000_000)
        if flush_interval is not None:
            self.flush_interval = _bounded("flush_interval", flush_interval, 0.01, 86_400)
        if batch_size is not None:
            self.batch_size = _bounded("batch_size", batch_size, 1, 100_000)
        self.sink = sink
        self.autostart = autostart
        self._start_pending = sink is not None and autostart and not self.running
        self._limits_changed()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Events buffered, not yet flushed."""
        return len(self._buffer)

    def add(self, event: tuple) -> None:
        """Buffer one event (the tuple layout above); never blocks, never raises."""
        if len(self._buffer) < self._fast_limit:
            self._buffer.append(event)
        else:
            self._add_slow(event)

    def _add_slow(self, event: tuple) -> None:
        # Only when a flush is due, the buffer is full or the thread is still to start: the
        # fast path above is one comparison and one append.
        if self._start_pending:
            self._start_lazily()
        buffer = self._buffer
        if len(buffer) >= self.limit:
            with self._count_lock:
                self.dropped += 1
        else:
            buffer.append(event)
        if len(buffer) >= self.flush_size and not self._wake.is_set():
            self._wake.set()

    def _limits_changed(self) -> None:
        # The event that fills the buffer to flush_size takes the slow path, which wakes the thread.
        self._fast_limit = 0 if self._start_pending else min(self.flush_size, self.limit) - 1

    def take(self) -> list[tuple]:
        """Remove and return everything buffered (as tuples), e.g. to discard it."""
        buffer = self._buffer
        # popleft is atomic: events appended meanwhile stay for the next flush.
        return [buffer.popleft() for _ in range(len(buffer))]

    def as_dicts(self, events: list[tuple]) -> list[dict]:
        """Events as the ingest API takes them. Wall-clock time from one clock read per batch."""
        offset = time.time_ns() - _perf()  # perf_counter_ns + offset = epoch ns
        prefix, sequence = self._id_prefix, self._sequence
        out = []
        for t0, duration, cpu, ok, error, memory, (session_id, user_id), name, kind, metadata in events:
            item = {"time": (t0 + offset) / 1e9, "event_id": f"{prefix}{next(sequence):x}", "kind": kind, "name": name}
            item["success"] = ok
            if session_id:
                item["session_id"] = session_id
            if user_id:
                item["user_id"] = user_id
            if duration is not None:
                item["duration_ms"] = duration / 1e6
            if error:
                item["error_type"] = error[:MAX_ERROR_TYPE]
            if cpu is not None:
                item["cpu_time_ms"] = cpu / 1e6
            if memory is not None:
                item["memory_delta_bytes"] = memory
            if metadata:
                item["metadata"] = metadata
            out.append(item)
        return out

    def flush(self) -> int:
        """Send everything buffered now; returns the number of events the sink accepted."""
        with self._flush_lock:
            events = self.take()
            sink = self.sink
            if not events or sink is None:
                return 0
            accepted = 0
            for start in range(0, len(events), self.batch_size):
                batch = self.as_dicts(events[start : start + self.batch_size])
                try:
                    # A sink returns how many events it refused as invalid (None: none).
                    refused = sink.send(batch, batch_key=uuid.uuid4().hex) or 0
                except Exception:
                    refused = len(batch)
                    logger.warning("usage events lost: the sink failed (%d events)", len(batch), exc_info=True)
                if refused:
                    with self._count_lock:
                        self.failed += refused
                accepted += len(batch) - refused
            self.sent += accepted
            return accepted

    def _start_lazily(self) -> None:
        with self._start_lock:  # two first events in two threads start one thread
            if self._start_pending:
                self._start_pending = False
                self._limits_changed()
                self.start()

    def start(self) -> None:
        """Start the flush thread (idempotent) and the flush at exit."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="usage-tracker", daemon=True)
        self._thread.start()
        if not self._atexit_registered:
            self._atexit_registered = True
            atexit.register(self.stop)
        # A multiprocessing child (a task queue's worker) ends without atexit handlers but runs
        # these finalizers. Registered here, in the process that starts the thread.
        multiprocessing.util.Finalize(self, self.stop, exitpriority=10)

    def _sink_hook(self, name: str) -> None:
        hook = getattr(self.sink, name, None)
        if hook is not None:
            hook()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                if not self._stop.is_set():
                    self._sink_hook("thread_before_flush")  # a database sink's stale connection
                    self.flush()
        finally:
            self._sink_hook("thread_exit")  # a database sink closes this thread's connection

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and send what is left once, without waiting between retries (exit)."""
        self._stop.set()
        self._wake.set()
        self._sink_hook("close")  # interrupts a retry's backoff wait: the process is going away
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()

    def _after_fork(self) -> None:
        # The parent's thread does not exist here, and the parent sends its own buffered events.
        self._thread = None
        self._flush_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()  # their locks may be held
        self._buffer.clear()
        self._id_prefix = secrets.token_hex(8) + "-"
        self._start_pending = self.sink is not None and self.autostart
        self._limits_changed()
        self._sink_hook("reopen")


def _bounded(field: str, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{field} must be a number from {low} to {high}, not {value!r}")
    return value


DEFAULT = Tracker()
# Each forked child (web and task workers) gets an empty buffer and its own thread.
os.register_at_fork(after_in_child=DEFAULT._after_fork)


def configure(sink=None, **options) -> Tracker:
    """Configure the module's default tracker (what `@track_usage` uses unless given another)."""
    return DEFAULT.configure(sink=sink, **options)


# --- recording ------------------------------------------------------------------------------


def _checked(name: str, kind: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return name[:MAX_NAME]


def _memory_now() -> int:
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    return tracemalloc.get_traced_memory()[0]


def _error_name(exc: BaseException) -> str:
    return type(exc).__qualname__


def track_usage(
    name: str,
    *,
    kind: str = "feature",
    memory: bool = False,
    cpu: bool = False,
    metadata: dict | None = None,
    tracker: Tracker | None = None,
):
    """Decorate a function, coroutine function, generator or async generator to record each call."""
    name = _checked(name, kind)
    tracker = DEFAULT if tracker is None else tracker
    get_context = _CONTEXT.get

    def decorate(fn):
        if inspect.isasyncgenfunction(fn):
            return _wrap_async_generator(fn, tracker, name, kind, memory, metadata)
        if inspect.iscoroutinefunction(fn):
            return _wrap_coroutine(fn, tracker, name, kind, memory, metadata)
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(fn, tracker, name, kind, memory, metadata)
        if not callable(fn):
            raise TypeError("track_usage decorates functions")

        if not memory and not cpu:
            # The common case, kept as short as it can be (bench/track_usage.py).
            buffer = tracker._buffer  # never replaced, only emptied

            @functools.wraps(fn)
            def bare(*args, **kwargs):
                if tracker.sink is None:
                    return fn(*args, **kwargs)
                t0 = _perf()
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    tracker.add(
                        (t0, _perf() - t0, None, False, _error_name(exc), None, get_context(), name, kind, metadata)
                    )
                    raise
                event = (t0, _perf() - t0, None, True, "", None, get_context(), name, kind, metadata)
                # Tracker.add() inlined: a method call is a good part of the 2 us budget.
                if len(buffer) < tracker._fast_limit:
                    buffer.append(event)
                else:
                    tracker._add_slow(event)
                return result

            return bare

        @functools.wraps(fn)
        def measured(*args, **kwargs):
            with track(name, kind=kind, memory=memory, cpu=cpu, metadata=metadata, tracker=tracker):
                return fn(*args, **kwargs)

        return measured

    return decorate


# Coroutines and generators are timed by a `track` block around them: one object per call,
# which matters little next to an event loop's or a generator's own costs.


def _wrap_coroutine(fn, tracker, name, kind, memory, metadata):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        # CancelledError is recorded as an error too: the call did not complete.
        with track(name, kind=kind, memory=memory, metadata=metadata, tracker=tracker):
            return await fn(*args, **kwargs)

    return wrapper


def _wrap_generator(fn, tracker, name, kind, memory, metadata):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # Timed to the end of the iteration; closed early by the consumer is not a failure.
        with track(name, kind=kind, memory=memory, metadata=metadata, tracker=tracker):
            return (yield from fn(*args, **kwargs))  # forwards send(), throw() and close()

    return wrapper


def _wrap_async_generator(fn, tracker, name, kind, memory, metadata):
    # No `yield from` for async generators: asend/athrow are forwarded by hand.
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        agen = fn(*args, **kwargs)
        with track(name, kind=kind, memory=memory, metadata=metadata, tracker=tracker):
            try:
                item = await agen.asend(None)
                while True:
                    try:
                        sent = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as exc:  # athrow() by the consumer goes on into the generator
                        item = await agen.athrow(exc)
                    else:
                        item = await agen.asend(sent)
            except StopAsyncIteration:
                pass

    return wrapper


class track:  # lower case: used like a function, `with track("name"):`
    """`with track("name") as t:` / `async with track("name"):` records the block like a call.

    `t.metadata` (a dict) may be filled inside the block; it is sent with the event."""

    __slots__ = ("_c0", "_m0", "_t0", "cpu", "kind", "memory", "metadata", "name", "tracker")

    def __init__(
        self,
        name: str,
        *,
        kind: str = "feature",
        memory: bool = False,
        cpu: bool = False,
        metadata: dict | None = None,
        tracker: Tracker | None = None,
    ):
        self.name = _checked(name, kind)
        self.kind = kind
        self.memory = memory
        self.cpu = cpu
        self.metadata = dict(metadata) if metadata else {}
        self.tracker = DEFAULT if tracker is None else tracker

    def __enter__(self) -> track:
        self._m0 = _memory_now() if self.memory and self.tracker.sink is not None else 0
        self._c0 = _cpu() if self.cpu else 0
        self._t0 = _perf()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        duration = _perf() - self._t0
        tracker = self.tracker
        if tracker.sink is not None:
            ok = exc_type is None or exc_type is GeneratorExit  # a generator closed early: fine
            tracker.add(
                (
                    self._t0,
                    duration,
                    _cpu() - self._c0 if self.cpu else None,
                    ok,
                    "" if ok else exc_type.__qualname__,
                    _memory_now() - self._m0 if self.memory else None,
                    _CONTEXT.get(),
                    self.name,
                    self.kind,
                    self.metadata or None,
                )
            )
        return False  # the exception, if any, propagates

    async def __aenter__(self) -> track:
        self.cpu = False  # the thread runs other tasks while this one awaits
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        return self.__exit__(exc_type, exc, tb)


def track_event(
    name: str,
    *,
    kind: str = "custom",
    duration_ms: float | None = None,
    success: bool = True,
    error_type: str = "",
    metadata: dict | None = None,
    tracker: Tracker | None = None,
) -> None:
    """Record one event that is not a call (a click reported by a page, a job's outcome)."""
    name = _checked(name, kind)
    tracker = DEFAULT if tracker is None else tracker
    if tracker.sink is None:
        return
    duration = None if duration_ms is None else round(float(duration_ms) * 1e6)
    tracker.add(
        (_perf(), duration, None, bool(success), str(error_type), None, _CONTEXT.get(), name, kind, metadata or None)
    )


# --- sinks ----------------------------------------------------------------------------------


class MemorySink:
    """Keeps sent events in `self.events` (tests, debugging)."""

    def __init__(self):
        self.events: list[dict] = []
        self.batch_keys: list[str] = []

    def send(self, events: list[dict], *, batch_key: str) -> None:
        self.events.extend(events)
        self.batch_keys.append(batch_key)


# Answers worth retrying: the receiver was busy, restarting or rate-limiting.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302 of a POST as a GET without the body, and the GET's 200
    # would pass for a delivered batch: a redirect is an error to fix in base_url instead.
    def redirect_request(self, *args, **kwargs):
        return None


class HttpSink:
    """POSTs batches to the portal's events API with a service key; retries transient failures.

    Each batch has one Idempotency-Key, reused by all its retries, so an attempt whose answer
    was lost is not stored twice. Backoff: `backoff * 2**attempt` seconds, capped at
    `max_backoff`, times a random factor in [0.5, 1) so many processes do not retry in step;
    a Retry-After answer (seconds) is honoured up to `max_backoff`."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        path: str = "/api/v1/events/",
        timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http:// or https:// URL, not {base_url!r}")
        if not key:
            raise ValueError("key is required (the service's API key)")
        self.url = base_url.rstrip("/") + "/" + path.lstrip("/")
        self.key = key
        self.timeout = _bounded("timeout", timeout, 0.1, 600)
        self.retries = _bounded("retries", retries, 0, 20)
        self.backoff = _bounded("backoff", backoff, 0, 600)
        self.max_backoff = _bounded("max_backoff", max_backoff, 0, 3600)
        self.attempts = 0  # requests made, retries included
        self._closing = threading.Event()
        self._opener = urllib.request.build_opener(_NoRedirect)

    def close(self) -> None:
        """No more waiting between retries: the next failure is final (the process is exiting)."""
        self._closing.set()

    def reopen(self) -> None:
        self._closing = threading.Event()

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_backoff)
        return min(self.backoff * 2**attempt, self.max_backoff) * random.uniform(0.5, 1.0)  # noqa: S311 (jitter)

    def send(self, events: list[dict], *, batch_key: str) -> int:
        """Deliver one batch; returns how many events the receiver refused as invalid."""
        body = json.dumps({"events": events}, default=str, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.key}",
            "Idempotency-Key": batch_key,
            "User-Agent": "analytics-tracker/1",
        }
        for attempt in range(self.retries + 1):
            retry_after = None
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 (scheme checked above)
            self.attempts += 1
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    response.read()
                return 0
            except urllib.error.HTTPError as exc:
                if exc.code == 400 and len(events) > 1:
                    return self._without_invalid(events, exc, batch_key)
                if exc.code == 413 and len(events) > 1:  # over the receiver's body limit: halve
                    half = len(events) // 2
                    return self.send(events[:half], batch_key=f"{batch_key}-a") + self.send(
                        events[half:], batch_key=f"{batch_key}-b"
                    )
                if exc.code not in RETRY_STATUSES:
                    detail = exc.read(2000).decode("utf-8", "replace")
                    raise SinkRejected(f"{self.url} answered {exc.code}: {detail}") from exc
                retry_after = exc.headers.get("Retry-After")
                failure: Exception = exc
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
                failure = exc
            if attempt == self.retries or self._closing.is_set():
                raise failure
            if self._closing.wait(self.delay(attempt, retry_after)):
                raise failure

    def _without_invalid(self, events: list[dict], error: urllib.error.HTTPError, batch_key: str) -> int:
        """A 400 lists the invalid events by index and writes nothing: send the others once more."""
        try:
            answer = json.loads(error.read(1_000_000))
            bad = {int(item["index"]) for item in answer["errors"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise SinkRejected(f"{self.url} answered 400 without per-event errors") from exc
        valid = [event for index, event in enumerate(events) if index not in bad]
        if not valid or len(valid) == len(events):
            raise SinkRejected(f"{self.url} answered 400: {answer.get('detail', '')}") from error
        logger.warning("usage events refused by %s: %s", self.url, answer["errors"][:10])
        # The refused batch wrote nothing and recorded no key; the rest is a batch of its own.
        return len(events) - len(valid) + self.send(valid, batch_key=f"{batch_key}-valid")
