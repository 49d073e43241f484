"""In-process metrics: Counter, Gauge, Histogram, Timer, and the registry they record into.

Recording is a lock and a dict/list operation: no I/O, no ORM. A background thread
(`monitoring.flusher`) turns what was recorded into rows and writes them through the ingest
fast path every METRICS_FLUSH_INTERVAL_SECONDS, when METRICS_FLUSH_SIZE observations are
waiting, and at exit.

What a flush writes, per series:
- Counter: one sample, the increment since the previous flush (counters are stored as
  increments; sums over a window are increases, see monitoring.query).
- Gauge: one sample with the current value, at every flush once it has been set (like a scrape),
  labelled `instance` = "host:pid": each process's gauge is its own series, so web and worker
  processes do not overwrite each other; readers aggregate (one line per process in charts and
  /metrics, `sum without (instance)` in Prometheus), like prometheus_client's multi-process
  gauges. A value every process sees alike (a queue's depth) is `gauge(..., per_process=False)`:
  no instance label, the latest sample is the value. A gauge with its own `instance` label keeps it.
- Histogram / Timer: one sample per observation (quantiles need them); Timer in seconds.

    requests = counter("shop_orders_total", "Orders placed", labelnames=("channel",))
    requests.inc(channel="web")                # or requests.labels(channel="web").inc()
    with timer("shop_checkout_seconds").time():
        ...
"""

import collections
import functools
import inspect
import itertools
import threading
import time

from monitoring.labels import MetricError, check_labels, check_name, check_value, labels_canonical, labels_hash

_perf_counter = time.perf_counter
_ONE = 1.0  # the default increment, recognised by identity on the fast path
# A series as recorded in memory: (name, canonical labels JSON, labels hash, kind).
SeriesId = tuple[str, str, str, str]


class Registry:
    """Process-wide, thread-safe store of what was recorded since the last flush."""

    def __init__(self, *, buffer_limit: int = 100_000, flush_size: int = 1000):
        self.lock = threading.Lock()
        self._acquire, self._release = self.lock.acquire, self.lock.release
        self.clock_offset = time.time() - time.perf_counter()
        self.metrics: dict[str, Metric] = {}
        self.counts: dict[SeriesId, float] = {}  # counter increments since the last flush
        # counter.inc() by one: a count per series, and the number it stood at at the last take
        self.units: dict[SeriesId, itertools.count] = {}
        self.units_seen: dict[SeriesId, int] = {}
        self.gauges: dict[SeriesId, float] = {}  # current gauge values
        self.shared_gauges: set[str] = set()  # names of gauges declared per_process=False
        # (series, value, unix time). deque.append and popleft are atomic under the GIL, so the
        # hot path takes no lock and the flusher drains with popleft: each item leaves once.
        self.observations: collections.deque[tuple[SeriesId, float, float]] = collections.deque()
        self.buffer_limit = buffer_limit
        self.flush_size = flush_size
        # Observations refused because the buffer was full: next() on a count is atomic too.
        self._drops = itertools.count()
        self._drops_seen = 0
        self.on_full = None  # set by the flusher: wakes it when flush_size observations wait
        # Called once, on the first record in this process: starts the background flusher lazily
        # (after any fork), so importing this module never starts a thread.
        self.on_first_record = None

    def register(self, metric: "Metric") -> "Metric":
        with self.lock:
            existing = self.metrics.get(metric.name)
            if existing is None:
                self.metrics[metric.name] = metric
                return metric
        if type(existing) is not type(metric) or existing.labelnames != metric.labelnames:
            raise MetricError("name", f"{metric.name} is already registered as a {existing.kind}")
        if getattr(existing, "per_process", None) != getattr(metric, "per_process", None):
            existing.declare()  # the refused twin's constructor declared the other mode
            raise MetricError(
                "per_process", f"{metric.name} is already registered with per_process={existing.per_process}"
            )
        return existing

    def _first_record(self) -> None:
        hook, self.on_first_record = self.on_first_record, None
        if hook is not None:
            hook()

    def observe(self, series: SeriesId, value: float, at: float | None = None) -> None:
        if self.on_first_record is not None:
            self._first_record()
        observations = self.observations
        if len(observations) >= self.buffer_limit:  # may overshoot by a few under contention
            next(self._drops)
            return
        observations.append((series, value, at or time.time()))
        if len(observations) == self.flush_size and self.on_full is not None:
            self.on_full()

    def _take_drops(self) -> int:
        seen = next(self._drops)  # this call uses up one number itself
        dropped, self._drops_seen = seen - self._drops_seen, seen + 1
        return dropped

    @property
    def dropped(self) -> int:
        """Drops since the last take (for tests and the admin); does not reset them."""
        seen = next(self._drops)
        dropped = seen - self._drops_seen
        self._drops_seen += 1
        return dropped

    def add(self, series: SeriesId, amount: float) -> None:
        if self.on_first_record is not None:
            self._first_record()
        self._acquire()
        counts = self.counts
        counts[series] = counts.get(series, 0.0) + amount
        self._release()

    def add_one(self, series: SeriesId) -> None:
        """counter.inc() without an amount: next() on an itertools.count is atomic under the GIL,
        so the common case takes no lock (about half the cost of add)."""
        if self.on_first_record is not None:
            self._first_record()
        units = self.units.get(series)
        if units is None:
            with self.lock:
                units = self.units.setdefault(series, itertools.count())
                self.units_seen.setdefault(series, 0)
        next(units)

    def set(self, series: SeriesId, value: float, delta: bool = False) -> None:
        if self.on_first_record is not None:
            self._first_record()
        with self.lock:
            self.gauges[series] = (self.gauges.get(series, 0.0) + value) if delta else value

    def wall_time(self, perf: float) -> float:
        """Unix time of a perf_counter() reading (timers already read that clock)."""
        return perf + self.clock_offset

    def take(self) -> tuple[dict, dict, list, int]:
        """Everything to write now; counters and observations are handed over exactly once."""
        self.clock_offset = time.time() - time.perf_counter()  # follow wall-clock adjustments
        with self.lock:
            counts, self.counts = self.counts, {}
            gauges = dict(self.gauges)
            for series, units in self.units.items():
                seen = next(units)  # uses up one number itself, hence the + 1 below
                if seen > self.units_seen[series]:
                    counts[series] = counts.get(series, 0.0) + (seen - self.units_seen[series])
                self.units_seen[series] = seen + 1
        popleft = self.observations.popleft
        observations = [popleft() for _ in range(len(self.observations))]
        return counts, gauges, observations, self._take_drops()

    def give_back(self, counts: dict, observations: list, dropped: int = 0) -> int:
        """Return unwritten data after a failed flush; what no longer fits is dropped (counted).
        `dropped`: the drop count the failed flush took, counted again so it is reported later."""
        with self.lock:
            for series, amount in counts.items():
                self.counts[series] = self.counts.get(series, 0.0) + amount
        room = max(0, self.buffer_limit - len(self.observations))
        kept = observations[-room:] if room else []
        self.observations.extendleft(reversed(kept))
        lost = len(observations) - len(kept)
        for _ in range(lost + dropped):
            next(self._drops)
        return lost

    def reset_lock(self) -> None:
        """After fork(): another thread of the parent may have held the lock."""
        self.lock = threading.Lock()
        self._acquire, self._release = self.lock.acquire, self.lock.release

    def clear(self) -> None:
        with self.lock:
            self.metrics.clear()
            self.counts.clear()
            self.units.clear()
            self.units_seen.clear()
            self.gauges.clear()
            self.shared_gauges.clear()
            self.observations.clear()
        self._take_drops()


REGISTRY = Registry()


class Metric:
    kind = ""

    def __init__(self, name: str, help: str = "", *, labelnames=(), registry: Registry | None = None):
        self.name = check_name(name)
        self.help = help
        self.labelnames = tuple(sorted(labelnames))
        for label in self.labelnames:
            check_labels({label: ""})
        self.registry = registry or REGISTRY
        self._children: dict[tuple, SeriesId] = {}
        self._plain: SeriesId | None = self._make_series({}) if not self.labelnames else None

    def _make_series(self, labels: dict) -> SeriesId:
        canonical = labels_canonical(check_labels(labels))
        return (self.name, canonical, labels_hash(canonical), self.kind)

    def series(self, labels: dict) -> SeriesId:
        if not labels and self._plain is not None:
            return self._plain
        key = tuple(sorted(labels.items()))
        found = self._children.get(key)
        if found is None:
            if tuple(k for k, _ in key) != self.labelnames:
                raise MetricError("labels", f"{self.name} takes labels {list(self.labelnames)}, got {sorted(labels)}")
            found = self._children[key] = self._make_series(labels)
        return found

    def labels(self, **labels) -> "Bound":
        """A handle with the labels resolved once: the cheapest way to record in a hot loop."""
        return Bound(self, self.series(labels))


class Bound:
    __slots__ = ("metric", "series_id")

    def __init__(self, metric: Metric, series_id: SeriesId):
        self.metric = metric
        self.series_id = series_id

    def inc(self, amount: float = _ONE) -> None:
        self.metric._inc(self.series_id, amount)

    def dec(self, amount: float = 1.0) -> None:
        self.metric._inc(self.series_id, -amount)

    def set(self, value: float) -> None:
        self.metric._set(self.series_id, value)

    def observe(self, value: float) -> None:
        self.metric._observe(self.series_id, value)

    def time(self) -> "Timing":
        return Timing(self.metric, self.series_id)


class Counter(Metric):
    kind = "counter"

    def inc(self, amount: float = _ONE, **labels) -> None:
        series_id = self._plain if not labels and self._plain else self.series(labels)
        if amount is _ONE:  # the default: no validation needed, lock-free counting
            self.registry.add_one(series_id)
            return
        # Inlined rather than calling _inc: each Python call level costs ~40 ns on the hot path.
        amount = check_value(amount)
        if amount < 0:
            raise MetricError("value", "a counter only goes up; use a Gauge for values that go down")
        self.registry.add(series_id, amount)

    def _inc(self, series_id, amount) -> None:
        if amount is _ONE:
            self.registry.add_one(series_id)
            return
        amount = check_value(amount)
        if amount < 0:
            raise MetricError("value", "a counter only goes up; use a Gauge for values that go down")
        self.registry.add(series_id, amount)


class Gauge(Metric):
    kind = "gauge"

    def __init__(self, name: str, help: str = "", *, labelnames=(), registry=None, per_process: bool = True):
        super().__init__(name, help, labelnames=labelnames, registry=registry)
        self.per_process = per_process
        self.declare()

    def declare(self) -> None:
        """Tell the flusher whether this name's samples get the process's `instance` label."""
        if self.per_process:
            self.registry.shared_gauges.discard(self.name)
        else:
            self.registry.shared_gauges.add(self.name)

    def set(self, value: float, **labels) -> None:
        self._set(self.series(labels), value)

    def inc(self, amount: float = 1.0, **labels) -> None:
        self._inc(self.series(labels), amount)

    def dec(self, amount: float = 1.0, **labels) -> None:
        self._inc(self.series(labels), -amount)

    def _set(self, series_id, value) -> None:
        self.registry.set(series_id, check_value(value))

    def _inc(self, series_id, amount) -> None:
        self.registry.set(series_id, check_value(amount), delta=True)

    def value(self, **labels) -> float | None:
        return self.registry.gauges.get(self.series(labels))


class Histogram(Metric):
    kind = "histogram"

    def observe(self, value: float, **labels) -> None:
        series_id = self._plain if not labels and self._plain else self.series(labels)
        self.registry.observe(series_id, check_value(value))

    def _observe(self, series_id, value) -> None:
        self.registry.observe(series_id, check_value(value))


class Timer(Histogram):
    """Durations in seconds: `with t.time():`, `@t.time()` (sync or async), or `t.observe(s)`."""

    kind = "timer"

    def time(self, **labels) -> "Timing":
        return Timing(self, self._plain if not labels and self._plain else self.series(labels))


class Timing:
    """Context manager and decorator that records the elapsed seconds into a timer."""

    __slots__ = ("_start", "registry", "series_id")

    def __init__(self, metric: Metric, series_id: SeriesId):
        self.registry = metric.registry
        self.series_id = series_id

    def __enter__(self):
        # Read here, not at creation: a Timing may be made once and entered many times later.
        self._start = _perf_counter()
        return self

    def __exit__(self, exc_type, exc, traceback):
        end = _perf_counter()
        registry = self.registry
        registry.observe(self.series_id, end - self._start, end + registry.clock_offset)
        return False

    def __call__(self, func):
        registry, series_id, clock = self.registry, self.series_id, time.perf_counter
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args, **kwargs):
                start = clock()
                try:
                    return await func(*args, **kwargs)
                finally:
                    end = clock()
                    registry.observe(series_id, end - start, end + registry.clock_offset)

            return timed_async

        @functools.wraps(func)
        def timed(*args, **kwargs):
            start = clock()
            try:
                return func(*args, **kwargs)
            finally:
                end = clock()
                registry.observe(series_id, end - start, end + registry.clock_offset)

        return timed


def _get(cls, name, help, labelnames, registry, **options):
    return (registry or REGISTRY).register(cls(name, help, labelnames=labelnames, registry=registry, **options))


def counter(name: str, help: str = "", *, labelnames=(), registry: Registry | None = None) -> Counter:
    """The process-wide Counter of this name (created on first use)."""
    return _get(Counter, name, help, labelnames, registry)


def gauge(
    name: str, help: str = "", *, labelnames=(), registry: Registry | None = None, per_process: bool = True
) -> Gauge:
    """per_process=False: a value every process sees alike (no `instance` label; latest wins)."""
    return _get(Gauge, name, help, labelnames, registry, per_process=per_process)


def histogram(name: str, help: str = "", *, labelnames=(), registry: Registry | None = None) -> Histogram:
    return _get(Histogram, name, help, labelnames, registry)


def timer(name: str, help: str = "", *, labelnames=(), registry: Registry | None = None) -> Timer:
    return _get(Timer, name, help, labelnames, registry)
