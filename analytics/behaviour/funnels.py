"""Ordered funnels with a conversion window (framework-free).

An actor (a user, or a session for events sent without a user id) converts to step i when it did
steps 1..i in that order, each at or after the one before, all within `window` seconds of step 1
(PostHog's ordered funnel; ClickHouse's windowFunnel). Other events in between do not matter.
Per step: actors that reached it, conversion from the first step and from the previous one,
drop-off, and the median time from the previous step.

The stream is (actor, time, name) ordered by actor then time; only one actor's progress is held.
"""

import random
import statistics
from collections.abc import Iterable, Sequence
from itertools import groupby
from operator import itemgetter

from analytics.behaviour.sessions import OutOfOrder, seconds

MIN_STEPS, MAX_STEPS = 2, 10
DEFAULT_WINDOW = 86_400.0  # one day
MAX_WINDOW = 90 * 86_400.0
# Times between steps kept per step for the median: past this, a uniform sample of this many
# (reservoir sampling, fixed seed so a rerun gives the same figure).
MAX_TIMES_KEPT = 100_000


class FunnelStats:
    def __init__(self, steps: Sequence[str], *, window: float = DEFAULT_WINDOW):
        if not MIN_STEPS <= len(steps) <= MAX_STEPS:
            raise ValueError(f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps")
        if not 0 < window <= MAX_WINDOW:
            raise ValueError(f"window must be in (0, {MAX_WINDOW:g}] seconds")
        self.steps = list(steps)
        self.window = window
        self.actors = 0
        self.reached = [0] * len(steps)
        self.times: list[list[float]] = [[] for _ in steps]  # [i]: seconds from step i-1 to step i
        self._seen_times = [0] * len(steps)
        self._random = random.Random(12)  # noqa: S311  (a sample for a median, not a secret)
        # name -> the step indexes it is, last first, so one event never advances two steps.
        self._index: dict[str, list[int]] = {}
        for i, name in enumerate(steps):
            self._index.setdefault(name, []).insert(0, i)

    def add_actor(self, events: Iterable[tuple[float, str]]) -> None:
        """One actor's (time, name) events in time order."""
        # best[i]: (start time, times of steps 0..i) of the match reaching step i that started
        # latest -- the latest start leaves the most window for the steps after it.
        best: list[tuple[float, tuple[float, ...]] | None] = [None] * len(self.steps)
        index, window = self._index, self.window
        touched = False
        previous = float("-inf")
        for t, name in events:
            if t < previous:
                raise OutOfOrder("an actor's events must arrive in time order")
            previous = t
            positions = index.get(name)
            if positions is None:
                continue
            touched = True
            for i in positions:
                if i == 0:
                    best[0] = (t, (t,))
                    continue
                before = best[i - 1]
                if before is None or t - before[0] > window:
                    continue
                current = best[i]
                if current is None or before[0] >= current[0]:
                    best[i] = (before[0], (*before[1], t))
        if not touched or best[0] is None:
            return
        self.actors += 1
        furthest = max(i for i, b in enumerate(best) if b is not None)
        for i in range(furthest + 1):
            self.reached[i] += 1
        moments = best[furthest][1]
        for i in range(1, furthest + 1):
            self._keep_time(i, moments[i] - moments[i - 1])

    def _keep_time(self, i: int, value: float) -> None:
        self._seen_times[i] += 1
        kept = self.times[i]
        if len(kept) < MAX_TIMES_KEPT:
            kept.append(value)
            return
        slot = self._random.randrange(self._seen_times[i])
        if slot < MAX_TIMES_KEPT:
            kept[slot] = value

    def result(self) -> dict:
        first = self.reached[0]
        rows = []
        for i, name in enumerate(self.steps):
            reached = self.reached[i]
            previous = self.reached[i - 1] if i else reached
            rows.append(
                {
                    "step": name,
                    "actors": reached,
                    "conversion": _share(reached, first),
                    "from_previous": _share(reached, previous),
                    "dropped": previous - reached,
                    "median_seconds": statistics.median(self.times[i]) if i and self.times[i] else None,
                }
            )
        return {
            "steps": rows,
            "window_seconds": self.window,
            "actors": self.actors,
            "converted": self.reached[-1],
            "conversion": _share(self.reached[-1], first),
        }


def funnel_from(events: Iterable[tuple[str, object, str]], steps: Sequence[str], *, window: float) -> FunnelStats:
    """A funnel over (actor, time, name) events ordered by actor then time. Each actor's events
    are read lazily (itertools.groupby): nothing but the actor's progress is held."""
    stats = FunnelStats(steps, window=window)
    for _actor, run in groupby(events, key=itemgetter(0)):
        stats.add_actor((seconds(moment), name) for _, moment, name in run)
    return stats


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None
