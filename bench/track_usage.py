"""Cost of @track_usage vs a bare call, in ns per call, 1 and 4 threads, session lookup included.

    .venv/bin/python bench/track_usage.py [--calls 100000]

Goal (issue 12): <= 2 µs extra per call. Each thread sets its session and user with
`set_context()` first, so every tracked call reads them like a call inside a request does.
The tracker is framework-free: no Django, no database.

Two figures per tracked case:
- caller: what the calling thread pays (events stay in the buffer during a round and are
  discarded between rounds; no flush thread),
- with flushing: a flush thread turns the events into dicts every 1,000 events and hands them to
  a sink that discards them. It shares the GIL, so this is the whole CPU cost of tracking.
"""

import argparse
import collections
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.tracker import Tracker, set_context, track, track_event, track_usage


class NullSink:
    def send(self, events, *, batch_key):
        return 0


def work(x):
    return x + 1


def measure(fn, calls: int, threads: int) -> float:
    """Wall-clock ns per call over all threads (wall time / total calls), threads running at once.
    With the GIL, 4 threads cannot beat one; what shows is the cost of contention."""
    barrier = threading.Barrier(threads + 1)

    def worker(i):
        set_context(session_id=f"session-{i}", user_id=f"user-{i}")
        barrier.wait()
        for _ in range(calls):
            fn(1)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter_ns()
    for t in pool:
        t.join()
    return (time.perf_counter_ns() - start) / (calls * threads)


def interleaved(cases, calls: int, threads: int, repeat: int = 5) -> list[float]:
    """Best of `repeat` rounds per case, each round measuring every case once in turn: on a
    shared machine the load drifts, and measuring one case after another would bias them."""
    results = [[] for _ in cases]
    for _ in range(repeat):
        for i, (_, fn, tracker) in enumerate(cases):
            results[i].append(measure(fn, calls, threads))
            if tracker is not None:
                tracker.flush()
                tracker.take()
    return [min(r) for r in results]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000, help="calls per thread per round")
    args = parser.parse_args()

    # No thread: the buffer is emptied between rounds only.
    held = Tracker(NullSink(), limit=10_000_000, flush_size=10_000_000, autostart=False)
    # A limit no round reaches: a dropped event would cost less than a flushed one.
    flushing = Tracker(NullSink(), limit=10_000_000, flush_size=1000, flush_interval=1.0)
    off = Tracker(None)
    sink: collections.deque = collections.deque(maxlen=1000)  # bounded: it is never emptied
    clock = time.perf_counter_ns

    def reference(func):
        # The yardstick: two clock reads and an append of a tuple, nothing else.
        def wrapper(x):
            start = clock()
            result = func(x)
            sink.append((start, clock()))
            return result

        return wrapper

    def with_block(x):
        with track("bench.block", tracker=held):
            return work(x)

    def with_event(x):
        track_event("bench.event", tracker=held)
        return work(x)

    cases = [
        ("bare call f(x)", work, None),
        ("reference: 2 clock reads + append", reference(work), None),
        ("@track_usage  [caller]", track_usage("bench.f", tracker=held)(work), held),
        ("@track_usage  [with flushing]", track_usage("bench.f", tracker=flushing)(work), flushing),
        ("@track_usage(cpu=True)  [caller]", track_usage("bench.cpu", cpu=True, tracker=held)(work), held),
        ("with track(...): f(x)  [caller]", with_block, held),
        ("track_event(...); f(x)  [caller]", with_event, held),
        ("@track_usage, no sink (off)", track_usage("bench.off", tracker=off)(work), None),
    ]
    print("ns per call; 4 threads = wall time / all calls of 4 concurrent threads (GIL: cannot beat 1 thread)")
    print(f"{'case':36} {'1 thread':>9} {'4 threads':>10} {'extra 1t':>9} {'extra 4t':>9} {'ratio 1t':>9}")
    ones = interleaved(cases, args.calls, 1)
    fours = interleaved(cases, args.calls, 4)
    bare = (ones[0], fours[0])
    results = {}
    for (name, _, _), one, four in zip(cases, ones, fours, strict=True):
        results[name] = (one - bare[0], four - bare[1])
        print(f"{name:36} {one:9.0f} {four:10.0f} {one - bare[0]:9.0f} {four - bare[1]:9.0f} {one / bare[0]:8.1f}x")
    flushing.stop()
    print(f"\nevents dropped: {held.dropped + flushing.dropped}")
    extra_one, extra_four = results["@track_usage  [caller]"]
    total_one, total_four = results["@track_usage  [with flushing]"]
    goal = "met" if max(extra_one, extra_four) <= 2000 else "NOT met"
    print(
        f"@track_usage extra per call: {extra_one / 1000:.2f} µs (1 thread), {extra_four / 1000:.2f} µs (4 threads); "
        f"goal <= 2 µs {goal}"
    )
    print(f"with the flush thread's work included: {total_one / 1000:.2f} µs, {total_four / 1000:.2f} µs")
    ref_one = results["reference: 2 clock reads + append"][0]
    print(
        f"the reference decorator (two clock reads and an append) costs {ref_one / 1000:.2f} µs here: "
        f"@track_usage is {extra_one / ref_one:.2f}x it"
    )


if __name__ == "__main__":
    main()
