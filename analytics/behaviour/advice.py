"""Recommendations in plain words, each with the numbers it rests on (framework-free).

- *together*: "72 % of sessions that use A use B next within 30 s" -- a shortcut from A to B,
  or B offered on A's screen, would save most people a step;
- *ends*: "45 % of uses of A end the session" -- people stop there (done, or stuck);
- *unused*: "feature X unused for 30 days" -- a candidate for removal, or for being found;
- *funnel*: the step of a funnel that loses the most.
Thresholds are arguments so the page and the stored job say the same thing.
"""

from analytics.behaviour.paths import PathStats

DAY = 86_400
MIN_SESSIONS = 20  # below this a share says more about chance than about people
TOGETHER_SHARE = 0.5
ENDS_SHARE = 0.4
UNUSED_DAYS = 30


def percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def path_advice(stats: PathStats, *, min_sessions: int = MIN_SESSIONS, top: int = 5) -> list[dict]:
    found = []
    for row in stats.pairs_within(min_sessions=min_sessions, top=top):
        if row["share"] < TOGETHER_SHARE:
            break
        found.append(
            {
                "kind": "together",
                "text": f"{percent(row['share'])} of sessions that use {row['from']} use {row['to']} next "
                f"within {duration(stats.within)} ({row['sessions']} of {row['of_sessions']}).",
                "numbers": {**row, "within_seconds": stats.within},
            }
        )
    ends = []
    for name, uses in stats.feature_uses.top(200):
        if stats.feature_sessions.get(name, 0) < min_sessions:
            continue
        ended = stats.transitions.get((name, None), 0)
        share = ended / uses
        if share >= ENDS_SHARE:
            ends.append((share, name, ended, uses))
    for share, name, ended, uses in sorted(ends, key=lambda e: (-e[0], e[1]))[:top]:
        found.append(
            {
                "kind": "ends",
                "text": f"{percent(share)} of uses of {name} end the session ({ended} of {uses}).",
                "numbers": {"feature": name, "ended": ended, "uses": uses, "share": round(share, 6)},
            }
        )
    return found


def unused_advice(last_used: dict[str, float], *, now: float, days: int = UNUSED_DAYS, top: int = 10) -> list[dict]:
    """Features whose last use is at least `days` days before `now`, longest unused first."""
    idle = sorted(((now - t) / DAY, name) for name, t in last_used.items() if now - t >= days * DAY)
    return [
        {
            "kind": "unused",
            "text": f"Feature {name} unused for {int(idle_days)} days.",
            "numbers": {"feature": name, "days_unused": int(idle_days)},
        }
        for idle_days, name in sorted(idle, key=lambda i: (-i[0], i[1]))[:top]
    ]


def funnel_advice(result: dict) -> list[dict]:
    """The step after which most actors leave, when anyone leaves at all."""
    steps = result["steps"]
    worst = max(range(1, len(steps)), key=lambda i: (steps[i]["dropped"], -i))
    row, before = steps[worst], steps[worst - 1]
    if not row["dropped"] or not before["actors"]:
        return []
    share = row["dropped"] / before["actors"]
    return [
        {
            "kind": "funnel",
            "text": f"{percent(share)} of those who reach {before['step']} do not go on to {row['step']} "
            f"within {duration(result['window_seconds'])} ({row['dropped']} of {before['actors']}).",
            "numbers": {
                "from": before["step"],
                "to": row["step"],
                "dropped": row["dropped"],
                "of": before["actors"],
                "share": round(share, 6),
            },
        }
    ]
