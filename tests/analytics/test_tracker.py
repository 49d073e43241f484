"""The tracker on its own (no database): decorators, context, buffer, flushing, failing sinks."""

import asyncio
import threading
import time
import tracemalloc

import pytest

from analytics.tracker import (
    MemorySink,
    Tracker,
    get_context,
    set_context,
    track,
    track_event,
    track_usage,
)


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def tracker(sink):
    # No thread: tests flush by hand unless they test the thread.
    return Tracker(sink, autostart=False)


def flushed(tracker, sink) -> list[dict]:
    tracker.flush()
    return sink.events


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Boom(Exception):
    pass


def test_it_records_a_sync_call_and_keeps_the_function(tracker, sink):
    @track_usage("reports.export", tracker=tracker)
    def export(a, *, b):
        """Exports."""
        time.sleep(0.02)
        return a + b

    assert export(1, b=2) == 3
    assert export.__name__ == "export"
    assert export.__doc__ == "Exports."
    (event,) = flushed(tracker, sink)
    assert event["name"] == "reports.export"
    assert event["kind"] == "feature"
    assert event["success"] is True
    assert "error_type" not in event
    assert 20 <= event["duration_ms"] < 2000
    assert abs(event["time"] - (time.time() - event["duration_ms"] / 1000)) < 5
    assert event["event_id"]


def test_it_records_a_coroutine(tracker, sink):
    @track_usage("search.run", kind="api_call", tracker=tracker)
    async def search(q):
        await asyncio.sleep(0.02)
        return [q]

    assert asyncio.run(search("x")) == ["x"]
    (event,) = flushed(tracker, sink)
    assert (event["name"], event["kind"], event["success"]) == ("search.run", "api_call", True)
    assert event["duration_ms"] >= 20


def test_a_generator_is_timed_to_the_end_of_its_iteration(tracker, sink):
    @track_usage("rows.stream", tracker=tracker)
    def rows(n):
        received = []
        for i in range(n):
            received.append((yield i))
        return received

    gen = rows(3)
    assert next(gen) == 0
    assert tracker.pending == 0  # not done yet
    time.sleep(0.03)  # the consumer's time between items counts: the feature is still in use
    assert gen.send("a") == 1
    assert gen.send("b") == 2
    with pytest.raises(StopIteration) as stop:
        gen.send("c")
    assert stop.value.value == ["a", "b", "c"]  # send() and the return value pass through
    (event,) = flushed(tracker, sink)
    assert event["name"] == "rows.stream" and event["success"] is True
    assert event["duration_ms"] >= 30


def test_a_generator_closed_early_is_not_a_failure(tracker, sink):
    @track_usage("rows.stream", tracker=tracker)
    def rows():
        yield from range(10)

    gen = rows()
    next(gen)
    gen.close()
    (event,) = flushed(tracker, sink)
    assert event["success"] is True


def test_an_async_generator_is_timed_to_the_end_of_its_iteration(tracker, sink):
    @track_usage("feed.poll", tracker=tracker)
    async def feed(n):
        for i in range(n):
            await asyncio.sleep(0.01)
            yield i

    async def consume():
        return [item async for item in feed(3)]

    assert asyncio.run(consume()) == [0, 1, 2]
    (event,) = flushed(tracker, sink)
    assert (event["name"], event["success"]) == ("feed.poll", True)
    assert event["duration_ms"] >= 30


def test_an_async_generator_gets_what_the_consumer_sends_and_throws(tracker, sink):
    seen = []

    @track_usage("feed.talk", tracker=tracker)
    async def talk():
        try:
            seen.append((yield 1))
        except Boom:
            seen.append("boom")
            yield 2

    async def drive():
        agen = talk()
        first = await agen.asend(None)
        thrown = await agen.athrow(Boom())
        await agen.aclose()
        return first, thrown

    assert asyncio.run(drive()) == (1, 2)
    assert seen == ["boom"]
    (event,) = flushed(tracker, sink)
    assert event["success"] is True  # handled inside, closed by the consumer


@pytest.mark.parametrize("shape", ["sync", "async", "generator", "async generator", "with", "async with"])
def test_an_exception_propagates_unchanged_and_is_recorded(tracker, sink, shape):
    error = Boom("disk full")

    def sync():
        raise error

    async def coroutine():
        await asyncio.sleep(0)
        raise error

    def generator():
        yield 1
        raise error

    async def async_generator():
        yield 1
        raise error

    async def async_block():
        async with track("block", tracker=tracker):
            raise error

    def block():
        with track("block", tracker=tracker):
            raise error

    async def consume(agen):
        return [item async for item in agen]

    run = {
        "sync": lambda: track_usage("f", tracker=tracker)(sync)(),
        "async": lambda: asyncio.run(track_usage("f", tracker=tracker)(coroutine)()),
        "generator": lambda: list(track_usage("f", tracker=tracker)(generator)()),
        "async generator": lambda: asyncio.run(consume(track_usage("f", tracker=tracker)(async_generator)())),
        "with": block,
        "async with": lambda: asyncio.run(async_block()),
    }[shape]
    with pytest.raises(Boom) as raised:
        run()
    assert raised.value is error
    (event,) = flushed(tracker, sink)
    assert event["success"] is False
    assert event["error_type"] == "Boom"
    assert event["duration_ms"] >= 0


def test_track_blocks_record_metadata_set_inside(tracker, sink):
    with track("import.csv", metadata={"source": "upload"}, tracker=tracker) as block:
        block.metadata["rows"] = 12

    async def run():
        async with track("import.async", kind="custom", tracker=tracker):
            await asyncio.sleep(0.01)

    asyncio.run(run())
    first, second = flushed(tracker, sink)
    assert first["name"] == "import.csv"
    assert first["metadata"] == {"source": "upload", "rows": 12}
    assert (second["name"], second["kind"]) == ("import.async", "custom")
    assert second["duration_ms"] >= 10


def test_track_event_records_what_it_is_given(tracker, sink):
    track_event(
        "button.click", duration_ms=12.5, success=False, error_type="Timeout", metadata={"a": 1}, tracker=tracker
    )
    (event,) = flushed(tracker, sink)
    assert event["kind"] == "custom"
    assert event["duration_ms"] == pytest.approx(12.5)
    assert (event["success"], event["error_type"], event["metadata"]) == (False, "Timeout", {"a": 1})


def test_cpu_and_memory_are_recorded_only_when_asked(tracker, sink):
    kept = []

    @track_usage("heavy", cpu=True, memory=True, tracker=tracker)
    def heavy():
        total = sum(i * i for i in range(200_000))  # CPU
        kept.append(bytearray(2_000_000))  # memory the call keeps
        return total

    @track_usage("light", tracker=tracker)
    def light():
        return 1

    tracing = tracemalloc.is_tracing()
    try:
        heavy()
        light()
    finally:
        if not tracing:
            tracemalloc.stop()  # it slows every allocation of the rest of the test run
    measured, plain = flushed(tracker, sink)
    assert measured["cpu_time_ms"] > 1
    assert measured["memory_delta_bytes"] >= 2_000_000
    assert "cpu_time_ms" not in plain and "memory_delta_bytes" not in plain


def test_bad_names_and_kinds_are_refused_at_decoration():
    with pytest.raises(ValueError, match="kind must be one of"):
        track_usage("x", kind="click")
    with pytest.raises(ValueError, match="name"):
        track_usage("")


def test_session_and_user_come_from_the_context(tracker, sink):
    @track_usage("f", tracker=tracker)
    def f():
        return get_context()

    assert f() == ("", "")
    with set_context(session_id="s1", user_id="42"):
        assert f() == ("s1", "42")
    token = set_context(session_id="s2", user_id="")
    f()
    token.reset()
    assert get_context() == ("", "")
    events = flushed(tracker, sink)
    assert [(e.get("session_id"), e.get("user_id")) for e in events] == [(None, None), ("s1", "42"), ("s2", None)]


def test_each_asyncio_task_has_its_own_context(tracker, sink):
    @track_usage("step", tracker=tracker)
    async def step():
        await asyncio.sleep(0.01)

    async def visit(session):
        set_context(session_id=session, user_id=f"user-{session}")
        await step()
        await step()

    async def main():
        await asyncio.gather(visit("a"), visit("b"))

    asyncio.run(main())
    by_session = {}
    for event in flushed(tracker, sink):
        by_session.setdefault(event["session_id"], set()).add(event["user_id"])
    assert by_session == {"a": {"user-a"}, "b": {"user-b"}}


def test_a_full_buffer_drops_new_events_and_counts_them(sink):
    tracker = Tracker(sink, limit=3, autostart=False)

    @track_usage("f", tracker=tracker)
    def f(i):
        return i

    assert [f(i) for i in range(5)] == [0, 1, 2, 3, 4]  # the caller never notices
    assert tracker.pending == 3
    assert tracker.dropped == 2
    tracker.flush()
    assert len(sink.events) == 3
    f(5)
    assert tracker.pending == 1  # room again after the flush


def test_without_a_sink_nothing_is_recorded():
    tracker = Tracker(None)

    @track_usage("f", tracker=tracker)
    def f():
        return 7

    assert f() == 7
    assert tracker.pending == 0
    assert not tracker.running


def test_the_thread_flushes_on_the_interval(sink):
    tracker = Tracker(sink, flush_interval=0.05, flush_size=1000)
    try:
        track_event("tick", tracker=tracker)
        assert tracker.running  # started by the first event
        assert wait_for(lambda: len(sink.events) == 1)
    finally:
        tracker.stop()


def test_the_thread_flushes_as_soon_as_flush_size_events_wait(sink):
    tracker = Tracker(sink, flush_interval=3600, flush_size=5)
    try:
        for _ in range(4):
            track_event("tick", tracker=tracker)
        time.sleep(0.1)
        assert sink.events == []  # neither the size nor the hour has come
        track_event("tick", tracker=tracker)
        assert wait_for(lambda: len(sink.events) == 5)
    finally:
        tracker.stop()


def test_stop_sends_what_is_left(sink):
    tracker = Tracker(sink, flush_interval=3600)
    track_event("last", tracker=tracker)
    tracker.stop()
    assert [e["name"] for e in sink.events] == ["last"]
    assert not tracker.running


def test_batches_are_cut_to_batch_size_each_with_its_own_key(sink):
    tracker = Tracker(sink, batch_size=4, autostart=False)
    for _ in range(10):
        track_event("e", tracker=tracker)
    assert tracker.flush() == 10
    assert len(sink.batch_keys) == 3 and len(set(sink.batch_keys)) == 3
    assert len({e["event_id"] for e in sink.events}) == 10


class FailingSink:
    def __init__(self):
        self.calls = 0

    def send(self, events, *, batch_key):
        self.calls += 1
        raise ConnectionError("receiver down")


def test_a_failing_sink_never_reaches_the_caller_and_is_counted():
    failing = FailingSink()
    tracker = Tracker(failing, flush_interval=0.02)

    @track_usage("f", tracker=tracker)
    def f():
        return "ok"

    try:
        assert [f() for _ in range(3)] == ["ok"] * 3
        assert wait_for(lambda: tracker.failed == 3)
        assert f() == "ok"  # still fine afterwards
    finally:
        tracker.stop()
    assert tracker.failed == 4 and tracker.sent == 0


def test_a_sink_may_refuse_part_of_a_batch(tracker):
    class PickySink(MemorySink):
        def send(self, events, *, batch_key):
            super().send(events[1:], batch_key=batch_key)
            return 1

    picky = PickySink()
    tracker.configure(sink=picky, autostart=False)
    for _ in range(3):
        track_event("e", tracker=tracker)
    assert tracker.flush() == 2
    assert (tracker.sent, tracker.failed) == (2, 1)


def test_many_threads_lose_nothing_below_the_limit(sink):
    tracker = Tracker(sink, flush_interval=0.01, flush_size=50)

    @track_usage("f", tracker=tracker)
    def f():
        return None

    def work():
        for _ in range(2000):
            f()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tracker.stop()
    assert len(sink.events) == 8000
    assert tracker.dropped == 0
    assert len({e["event_id"] for e in sink.events}) == 8000


def test_a_forked_child_starts_with_an_empty_buffer(sink):
    tracker = Tracker(sink, autostart=False)
    tracker.autostart = True  # as configured in the parent, whose thread the child lacks
    tracker.add((0, 1, None, True, "", None, ("", ""), "x", "feature", None))
    tracker._after_fork()  # what os.register_at_fork runs in the child
    assert tracker.pending == 0
    assert tracker._start_pending  # the child starts its own thread on its first event


def test_limits_are_bounded():
    with pytest.raises(ValueError, match="limit must be a number from 1"):
        Tracker(None, limit=0)
    with pytest.raises(ValueError, match="flush_interval"):
        Tracker(None, flush_interval=-1)
