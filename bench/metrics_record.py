"""Cost of recording a metric vs a bare function call, in ns per call, 1 and 4 threads.

    .venv/bin/python bench/metrics_record.py [--calls 300000]

Goal (issue 3): <= 1 µs extra per record. The registry is framework-free (no Django needed);
nothing is flushed during the measurement (observations are discarded between rounds).
"""

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitoring.metrics import Counter, Histogram, Registry, Timer


def noop():
    return None


def measure(fn, calls: int, threads: int) -> float:
    """Wall-clock ns per call over all threads (wall time / total calls), threads running at once.

    With the GIL, N threads cannot beat one; what this shows is the extra cost of contention
    on the registry lock. Each thread makes `calls` calls, so they really overlap."""
    barrier = threading.Barrier(threads + 1)

    def worker():
        barrier.wait()
        for _ in range(calls):
            fn()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter_ns()
    for t in pool:
        t.join()
    return (time.perf_counter_ns() - start) / (calls * threads)


def best(fn, calls, threads, registry, repeat=3) -> float:
    results = []
    for _ in range(repeat):
        results.append(measure(fn, calls, threads))
        registry.take()
    return min(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300_000, help="calls per thread per round")
    args = parser.parse_args()
    registry = Registry(buffer_limit=50_000_000, flush_size=10**9)
    counter = Counter("bench_requests_total", registry=registry)
    labelled = Counter("bench_labelled_total", labelnames=("route",), registry=registry).labels(route="/cart")
    histogram = Histogram("bench_sizes", registry=registry)
    timer = Timer("bench_seconds", registry=registry)

    @timer.time()
    def timed_noop():
        return None

    def with_timer():
        with timer.time():
            pass

    sink: list = []
    clock = time.perf_counter

    def reference(func):
        # The yardstick: a decorator that reads the clock twice and appends a tuple.
        def wrapper():
            start = clock()
            func()
            sink.append((start, clock()))

        return wrapper

    ref_decorated = reference(noop)

    cases = [
        ("bare call f()", noop),
        ("reference: 2 clock reads + append", ref_decorated),
        ("Counter.inc()", counter.inc),
        ("Counter.labels(...).inc()  [bound]", labelled.inc),
        ("Histogram.observe(1.5)  [via a lambda]", lambda: histogram.observe(1.5)),
        ("@Timer.time() decorated f()", timed_noop),
        ("with Timer.time(): pass", with_timer),
    ]
    print("ns per call; 4 threads = wall time / all calls of 4 concurrent threads (GIL: cannot beat 1 thread)")
    print(f"{'case':38} {'1 thread ns':>12} {'4 threads ns':>13} {'extra vs bare (1t)':>19}")
    table = {}
    for name, fn in cases:
        one = best(fn, args.calls, 1, registry)
        four = best(fn, args.calls, 4, registry)
        sink.clear()
        table[name] = (one, four)
        print(f"{name:38} {one:12.0f} {four:13.0f} {one - table['bare call f()'][0]:16.0f} ns")
    bare = table["bare call f()"][0]
    ref = table["reference: 2 clock reads + append"][0] - bare
    records = {
        name: one - bare
        for name, (one, _) in table.items()
        if name not in ("bare call f()",) and "reference" not in name
    }
    worst = max(records, key=records.get)
    print(f"\nextra cost per record, 1 thread (goal <= 1 µs; the reference decorator costs {ref:.0f} ns here):")
    for name, extra in records.items():
        print(f"  {name:38} {extra / 1000:5.2f} µs = {extra / ref:4.1f}x the reference")
    print(f"worst: {worst} at {records[worst] / 1000:.2f} µs")


if __name__ == "__main__":
    main()
