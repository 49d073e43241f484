"""Most common paths and next-step probabilities over sessions (framework-free).

Definitions (each counted once per session, like PostHog's and the sequential-pattern literature):
- a *path* of length n (2..5) is n consecutive steps of a session;
- its *support* is the share of sessions that contain it at least once;
- its *confidence* is P(last step | the n-1 steps before it) =
  sessions containing the path / sessions containing its prefix.
Next steps count occurrences instead: after each use of A, which step came next, or the session
ended; P(B | A) = transitions A -> B / uses of A.

Memory is bounded: every table is a `BoundedCounter`, which keeps at most `capacity` keys and
says how far its counts may be low once it had to forget rare keys.
"""

import heapq
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise

from analytics.behaviour.sessions import Session

MIN_PATH, MAX_PATH = 2, 5
DEFAULT_WITHIN = 30.0  # seconds: "B next within 30 s of A"
MAX_WITHIN = 86_400.0
DEFAULT_CAPACITY = 50_000  # distinct keys kept per table
MAX_TOP = 200
END = None  # the "session ends" outcome of a next step


class BoundedCounter:
    """A dict of counts that never holds more than `capacity` keys.

    When full, it forgets the keys with the smallest counts (about half of them, all those at or
    below a threshold) and remembers the largest forgotten count as `error`: a key's count may then
    be low by at most `error` (lossy counting). Exact while the distinct keys fit."""

    __slots__ = ("capacity", "counts", "error")

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self.counts: Counter = Counter()
        self.error = 0

    def add(self, key, amount: int = 1) -> None:
        counts = self.counts
        counts[key] = counts.get(key, 0) + amount
        if len(counts) > self.capacity:
            self._shrink()

    def add_many(self, keys) -> None:
        """Count each key once more (Counter.update counts in C); the capacity is checked after the
        batch (a session's keys), so the table may pass it by one batch before it shrinks."""
        counts = self.counts
        counts.update(keys)
        if len(counts) > self.capacity:
            self._shrink()

    def _shrink(self) -> None:
        histogram = Counter(self.counts.values())
        forgotten, threshold = 0, 0
        for value in sorted(histogram):
            forgotten += histogram[value]
            threshold = value
            if forgotten >= len(self.counts) // 2:
                break
        self.counts = Counter({k: v for k, v in self.counts.items() if v > threshold})
        self.error = max(self.error, threshold)

    def get(self, key, default=None):
        return self.counts.get(key, default)

    def top(self, k: int) -> list:
        """The k largest counts, ties in a stable order (by key) so equal inputs give equal answers.
        The k-th largest count is found first, so only the keys at or above it are sorted."""
        if k <= 0 or not self.counts:
            return []
        threshold = heapq.nlargest(k, self.counts.values())[-1]
        found = [(key, n) for key, n in self.counts.items() if n >= threshold]
        return sorted(found, key=lambda kv: (-kv[1], _sort_key(kv[0])))[:k]

    def __len__(self) -> int:
        return len(self.counts)


def _sort_key(key):
    if isinstance(key, tuple):
        return tuple("" if part is None else part for part in key)
    return key


class PathStats:
    """Feed it sessions with `add`; `paths()`, `next_steps()` and `pairs_within()` read the counts."""

    def __init__(
        self,
        *,
        max_length: int = MAX_PATH,
        within: float = DEFAULT_WITHIN,
        capacity: int = DEFAULT_CAPACITY,
    ):
        if not MIN_PATH <= max_length <= MAX_PATH:
            raise ValueError(f"max_length must be between {MIN_PATH} and {MAX_PATH}")
        if not 0 < within <= MAX_WITHIN:
            raise ValueError(f"within must be in (0, {MAX_WITHIN:g}] seconds")
        self.max_length = max_length
        self.within = within
        self.sessions = 0
        self.steps = 0
        self.feature_sessions = BoundedCounter(capacity)  # sessions using a feature
        self.feature_uses = BoundedCounter(capacity)  # steps of a feature (collapsed repeats = 1)
        self.last_used: dict[str, float] = {}
        self.grams = {n: BoundedCounter(capacity) for n in range(MIN_PATH, max_length + 1)}
        self.transitions = BoundedCounter(capacity)  # (A, B or END) -> occurrences
        self.transitions_within = BoundedCounter(capacity)  # (A, B) -> occurrences with B within `within`
        self.pair_sessions_within = BoundedCounter(capacity)  # (A, B) -> sessions with A -> B within `within`

    def add(self, session: Session) -> None:
        # Batched per session (one add_many per table): this loop is most of a paths run.
        names, starts, ends = session.names, session.starts, session.ends
        count = len(names)
        if not count:
            return
        self.sessions += 1
        self.steps += count
        last_used = self.last_used
        minus_infinity = float("-inf")
        for name, end in dict(zip(names, ends, strict=True)).items():  # a name's last end in the session
            if last_used.get(name, minus_infinity) < end:
                last_used[name] = end
        self.feature_uses.add_many(names)
        self.feature_sessions.add_many(set(names))
        pairs = list(pairwise(names))
        for n, table in self.grams.items():
            if count < n:
                break
            table.add_many(set(pairs) if n == 2 else set(zip(*(names[i:] for i in range(n)), strict=False)))
        self.transitions.add_many(pairs)
        self.transitions.add((names[-1], END))
        within = self.within
        quick = [pair for pair, end, start in zip(pairs, ends, starts[1:], strict=False) if start - end <= within]
        if quick:
            self.transitions_within.add_many(quick)
            self.pair_sessions_within.add_many(set(quick))

    def add_all(self, sessions: Iterable[Session]) -> "PathStats":
        for session in sessions:
            self.add(session)
        return self

    @property
    def approximate(self) -> bool:
        tables = [self.feature_sessions, self.feature_uses, self.transitions, *self.grams.values()]
        return any(t.error for t in tables)

    def paths(self, *, top: int = 20, length: int | None = None) -> list[dict]:
        """The `top` most common paths of each length (or of `length` only), most sessions first."""
        found = []
        for n, table in self.grams.items():
            if length is not None and n != length:
                continue
            for gram, sessions in table.top(top):
                prefix = self.feature_sessions.get(gram[0]) if n == 2 else self.grams[n - 1].get(gram[:-1])
                found.append(
                    {
                        "steps": list(gram),
                        "length": n,
                        "sessions": sessions,
                        "support": _share(sessions, self.sessions),
                        "confidence": _share(sessions, prefix) if prefix else None,
                    }
                )
        return found

    def next_steps(self, *, feature: str | None = None, top: int = 20, features: int = 50) -> dict[str, dict]:
        """feature -> {uses, outcomes: [{step (None: the session ended), count, probability,
        within}]}, for `feature` alone or the `features` most used ones."""
        sources = [feature] if feature is not None else [name for name, _ in self.feature_uses.top(features)]
        outcomes: dict[str, list] = {name: [] for name in sources}
        for (a, b), count in self.transitions.counts.items():
            if a in outcomes:
                outcomes[a].append((b, count))
        found = {}
        for name in sources:
            uses = self.feature_uses.get(name, 0)
            rows = sorted(outcomes[name], key=lambda bc: (-bc[1], "" if bc[0] is None else bc[0]))[:top]
            found[name] = {
                "uses": uses,
                "sessions": self.feature_sessions.get(name, 0),
                "outcomes": [
                    {
                        "step": b,
                        "count": count,
                        "probability": _share(count, uses),
                        "within": None if b is None else self.transitions_within.get((name, b), 0),
                    }
                    for b, count in rows
                ],
            }
        return found

    def pairs_within(self, *, min_sessions: int = 1, top: int = 20) -> list[dict]:
        """Pairs "A then B within `within` seconds" by share of the sessions that use A."""
        rows = []
        for (a, b), sessions in self.pair_sessions_within.counts.items():
            using = self.feature_sessions.get(a, 0)
            if sessions >= min_sessions and using:
                rows.append({"from": a, "to": b, "sessions": sessions, "of_sessions": using})
        for row in rows:
            row["share"] = _share(row["sessions"], row["of_sessions"])
        rows.sort(key=lambda r: (-r["share"], -r["sessions"], r["from"], r["to"]))
        return rows[:top]

    def summary(self) -> dict:
        return {
            "sessions": self.sessions,
            "steps": self.steps,
            "features": len(self.feature_uses),
            "within_seconds": self.within,
            "approximate": self.approximate,
            "max_count_error": max(
                [self.feature_sessions.error, self.transitions.error, *(t.error for t in self.grams.values())]
            ),
        }


def _share(part: int, whole: int | None) -> float | None:
    return round(part / whole, 6) if whole else None
