"""The framework-free behaviour analysis on small hand-computed datasets (exact numbers)."""

import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from analytics.behaviour.advice import funnel_advice, path_advice, unused_advice
from analytics.behaviour.funnels import FunnelStats, funnel_from
from analytics.behaviour.paths import BoundedCounter, PathStats
from analytics.behaviour.retention import retention_from, week_of, week_start
from analytics.behaviour.sessions import OutOfOrder, SessionCounts, sessions_from
from tests.support import ROOT

# Four sessions, (session, user, seconds, feature): A B C / A B D / A C / B C.
PATH_EVENTS = [
    ("s1", "u1", 0, "A"), ("s1", "u1", 10, "B"), ("s1", "u1", 100, "C"),
    ("s2", "u2", 0, "A"), ("s2", "u2", 20, "B"), ("s2", "u2", 25, "D"),
    ("s3", "u3", 0, "A"), ("s3", "u3", 5, "C"),
    ("s4", "u4", 0, "B"), ("s4", "u4", 40, "C"),
]  # fmt: skip


def path_stats(events=PATH_EVENTS, **options):
    return PathStats(**options).add_all(sessions_from(iter(events)))


def test_paths_have_support_over_sessions_and_confidence_over_their_prefix():
    stats = path_stats()
    pairs = {tuple(p["steps"]): p for p in stats.paths(length=2)}
    assert pairs[("A", "B")] == {
        "steps": ["A", "B"], "length": 2, "sessions": 2, "support": 0.5, "confidence": 0.666667
    }  # fmt: skip
    assert pairs[("B", "C")]["sessions"] == 2 and pairs[("B", "C")]["confidence"] == 0.666667
    assert pairs[("A", "C")]["support"] == 0.25 and pairs[("B", "D")]["support"] == 0.25
    assert [p["steps"] for p in stats.paths(length=2)] == [["A", "B"], ["B", "C"], ["A", "C"], ["B", "D"]]
    triples = {tuple(p["steps"]): p for p in stats.paths(length=3)}
    assert triples[("A", "B", "C")]["sessions"] == 1
    assert triples[("A", "B", "C")]["confidence"] == 0.5  # of the 2 sessions with A B
    assert stats.paths(length=4) == []
    assert stats.summary()["sessions"] == 4 and stats.summary()["approximate"] is False


def test_a_path_counts_once_per_session_however_often_it_repeats():
    events = [("s", "u", t, name) for t, name in enumerate("ABABAB")]
    stats = path_stats(events)
    pairs = {tuple(p["steps"]): p["sessions"] for p in stats.paths(length=2)}
    assert pairs == {("A", "B"): 1, ("B", "A"): 1}
    assert stats.next_steps(feature="A")["A"]["uses"] == 3


def test_next_steps_give_probabilities_with_the_session_ending_as_an_outcome():
    stats = path_stats()
    a = stats.next_steps(feature="A")["A"]
    assert a["uses"] == 3 and a["sessions"] == 3
    assert a["outcomes"] == [
        {"step": "B", "count": 2, "probability": 0.666667, "within": 2},
        {"step": "C", "count": 1, "probability": 0.333333, "within": 1},
    ]
    b = stats.next_steps(feature="B")["B"]["outcomes"]
    assert b == [
        {"step": "C", "count": 2, "probability": 0.666667, "within": 0},  # 90 s and 40 s later
        {"step": "D", "count": 1, "probability": 0.333333, "within": 1},
    ]
    assert stats.next_steps(feature="C")["C"]["outcomes"] == [
        {"step": None, "count": 3, "probability": 1.0, "within": None}
    ]
    assert stats.next_steps(feature="nope")["nope"] == {"uses": 0, "sessions": 0, "outcomes": []}


def test_recommendations_say_the_numbers_they_rest_on():
    stats = path_stats()
    advice = path_advice(stats, min_sessions=1)
    assert advice[0]["text"] == "67 % of sessions that use A use B next within 30 s (2 of 3)."
    assert advice[0]["numbers"]["share"] == 0.666667
    assert [a["text"] for a in advice if a["kind"] == "ends"] == [
        "100 % of uses of C end the session (3 of 3).",
        "100 % of uses of D end the session (1 of 1).",
    ]
    assert path_advice(stats) == []  # 20 sessions at least by default: 4 say nothing
    now = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    unused = unused_advice({"X": now - 31 * 86400 - 5, "Y": now - 86400}, now=now)
    assert [u["text"] for u in unused] == ["Feature X unused for 31 days."]


def test_a_session_id_splits_after_the_inactivity_timeout():
    events = [("x", "u", 0, "A"), ("x", "u", 100, "B"), ("x", "u", 1900, "C"), ("x", "u", 3800, "D")]
    counts = SessionCounts()
    found = list(sessions_from(iter(events), timeout=1800, counts=counts))
    # 1800 s after B is still the same session (not longer than the timeout); 1900 s later is not.
    assert [s.names for s in found] == [["A", "B", "C"], ["D"]]
    assert [s.key for s in found] == ["x", "x"]
    assert counts.sessions == 2 and counts.events == 4


def test_events_without_a_session_id_are_grouped_per_user_with_the_timeout():
    events = [
        ("", "", 5, "X"),
        ("", "u1", 0 + 10, "A"),
        ("", "u2", 20, "A"),
        ("", "u1", 30, "B"),
        ("", "u1", 3000, "C"),
        ("s", "u3", 0, "A"),
    ]
    counts = SessionCounts()
    found = {(s.key, tuple(s.names)) for s in sessions_from(iter(events), timeout=1800, counts=counts)}
    assert found == {("user:u1", ("A", "B")), ("user:u2", ("A",)), ("user:u1", ("C",)), ("s", ("A",))}
    assert counts.unattributed == 1 and counts.sessions == 4


def test_repeats_collapse_into_one_step_timed_from_its_last_use():
    (session,) = sessions_from(iter([("s", "u", 0, "A"), ("s", "u", 10, "A"), ("s", "u", 20, "B")]))
    assert session.names == ["A", "B"] and session.starts == [0, 20] and session.ends == [10, 20]
    (kept,) = sessions_from(iter([("s", "u", 0, "A"), ("s", "u", 10, "A")]), collapse_repeats=False)
    assert kept.names == ["A", "A"]


def test_long_sessions_are_cut_and_out_of_order_streams_refused():
    events = [("s", "u", t, f"f{t}") for t in range(7)]
    counts = SessionCounts()
    assert [len(s.names) for s in sessions_from(iter(events), max_steps=3, counts=counts)] == [3, 3, 1]
    assert counts.cut == 2
    with pytest.raises(OutOfOrder):
        list(sessions_from(iter([("s", "u", 10, "A"), ("s", "u", 5, "B")])))
    with pytest.raises(ValueError, match="timeout"):
        list(sessions_from(iter([]), timeout=0))


def test_datetimes_and_numbers_are_both_read():
    start = datetime(2026, 12, 1, tzinfo=UTC)
    events = [("s", "u", start, "A"), ("s", "u", start + timedelta(seconds=10), "B")]
    stats = path_stats(events)
    assert stats.next_steps(feature="A")["A"]["outcomes"][0]["within"] == 1
    assert stats.last_used == {"A": start.timestamp(), "B": start.timestamp() + 10}


FUNNEL_EVENTS = [
    ("u1", 0, "A"), ("u1", 50, "B"), ("u1", 90, "C"),
    ("u2", 0, "A"), ("u2", 150, "B"), ("u2", 200, "A"), ("u2", 210, "B"),
    ("u3", 0, "B"), ("u3", 10, "C"),
    ("u4", 0, "A"), ("u4", 5, "C"), ("u4", 10, "B"),
    ("u5", 0, "A"),
]  # fmt: skip


def test_funnel_conversion_drop_off_and_median_time_per_step():
    result = funnel_from(iter(FUNNEL_EVENTS), ["A", "B", "C"], window=100).result()
    assert [s["actors"] for s in result["steps"]] == [4, 3, 1]  # u3 never did A
    assert [s["conversion"] for s in result["steps"]] == [1.0, 0.75, 0.25]
    assert [s["from_previous"] for s in result["steps"]] == [1.0, 0.75, 0.333333]
    assert [s["dropped"] for s in result["steps"]] == [0, 1, 2]
    # A -> B took 50 s (u1), 10 s (u2's second try: the first B came after the window), 10 s (u4).
    assert [s["median_seconds"] for s in result["steps"]] == [None, 10, 40]
    assert result["converted"] == 1 and result["conversion"] == 0.25 and result["actors"] == 4
    (advice,) = funnel_advice(result)
    assert advice["text"] == "67 % of those who reach B do not go on to C within 100 s (2 of 3)."


def test_a_funnel_starts_again_from_a_later_first_step_to_fit_the_window():
    stats = FunnelStats(["A", "B", "C"], window=100)
    stats.add_actor([(0, "A"), (100, "A"), (150, "B"), (190, "C")])
    assert stats.reached == [1, 1, 1]


def test_one_event_never_advances_two_steps_of_the_same_name():
    stats = FunnelStats(["A", "A"], window=100)
    stats.add_actor([(0, "A")])
    stats.add_actor([(0, "A"), (10, "A")])
    assert stats.reached == [2, 1]


def test_funnel_bounds():
    with pytest.raises(ValueError, match="2 to 10 steps"):
        FunnelStats(["A"])
    with pytest.raises(ValueError, match="window"):
        FunnelStats(["A", "B"], window=0)


def test_weekly_retention_by_first_use_cohort():
    first = week_of(datetime(2026, 11, 2, tzinfo=UTC).timestamp())  # a Monday
    assert week_start(first) == datetime(2026, 11, 2, tzinfo=UTC)
    day = 86400
    monday = week_start(first).timestamp()
    events = [
        ("u1", monday + 1 * day, "A"), ("u1", monday + 8 * day, "A"), ("u1", monday + 15 * day, "B"),
        ("u2", monday + 6 * day, "A"), ("u2", monday + 20 * day, "A"),
        ("u3", monday + 7 * day, "A"), ("u3", monday + 8 * day, "A"), ("u3", monday + 14 * day, "A"),
        ("u4", monday - 1 * day, "A"), ("u4", monday + 1 * day, "A"),  # first use before the range
    ]  # fmt: skip
    stats = retention_from(iter(events), first_week=first, end_week=first + 3)
    result = stats.result()
    assert [c["week_start"] for c in result["cohorts"]] == ["2026-11-02", "2026-11-09", "2026-11-16"]
    assert [c["retained"] for c in result["cohorts"]] == [[2, 1, 2], [1, 1], [0]]
    assert result["cohorts"][0]["share"] == [1.0, 0.5, 1.0]
    assert result["cohorts"][2]["share"] == [None]
    assert result["users"] == 3 and stats.outside == 1
    # Cohort by first use of B, returning with A: only u1 used B (in week 2).
    by_b = retention_from(iter(events), first_week=first, end_week=first + 3, start_event="B").result()
    assert [c["users"] for c in by_b["cohorts"]] == [0, 0, 1]


def test_bounded_counter_forgets_rare_keys_and_says_how_far_counts_may_be_low():
    counter = BoundedCounter(capacity=4)
    for key, times in [("a", 5), ("b", 4), ("c", 1), ("d", 1)]:
        for _ in range(times):
            counter.add(key)
    assert counter.error == 0 and counter.top(2) == [("a", 5), ("b", 4)]
    counter.add("e")  # five keys: the ones counted once are forgotten
    assert len(counter) <= 4 and counter.error == 1
    assert counter.get("a") == 5 and counter.get("c") is None


def streamed_sessions(count: int):
    paths = ["ABCD", "ABD", "ACD", "BCDA"]
    for i in range(count):
        for step, name in enumerate(paths[i % 4]):
            yield (f"session-{i:07d}", f"user-{i % 997}", i * 10 + step, name)


def test_streaming_holds_per_session_state_only():
    tracemalloc.start()
    try:
        stats = path_stats(streamed_sessions(5_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.sessions == 5_000 and stats.steps == 17_500
    # The 17,500 events as a list of tuples take ~4 MB; streamed, the peak is the counters, one
    # open session and Python's free lists of small tuples (~0.2 MB, no more for 20,000 sessions).
    assert peak < 1_000_000, peak


def test_the_analysis_modules_import_nothing_from_django():
    code = (
        "import sys\n"
        "import analytics.behaviour.sessions, analytics.behaviour.paths, analytics.behaviour.funnels\n"
        "import analytics.behaviour.retention, analytics.behaviour.advice\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')], 'django'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
