"""Weekly retention of users by first-use cohort (framework-free).

A user's cohort is the UTC week (Monday 00:00 UTC) of their first event (or first use of
`start_event`); they are retained in week k when they had an event (or used `return_event`) in the
k-th week after it. Week 0 is the cohort itself (everyone). Users whose first use falls outside
[first_week, end_week) are in no cohort: they were there before the range (PostHog's "for the
first time" retention), or after it.

The stream is (user, time, name) ordered by user then time; one user's state is held: their
cohort and the set of weeks they came back in (at most MAX_WEEKS).
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter

from analytics.behaviour.sessions import OutOfOrder, seconds

WEEK = 7 * 86_400
MAX_WEEKS = 52
# 1970-01-05 was the first Monday after the epoch: weeks are counted from there.
FIRST_MONDAY = 4 * 86_400


def week_of(t: float) -> int:
    return int((t - FIRST_MONDAY) // WEEK)


def week_start(week: int) -> datetime:
    return datetime(1970, 1, 5, tzinfo=UTC) + timedelta(weeks=week)


class RetentionStats:
    def __init__(
        self, *, first_week: int, end_week: int, start_event: str | None = None, return_event: str | None = None
    ):
        if not 0 < end_week - first_week <= MAX_WEEKS:
            raise ValueError(f"retention covers 1 to {MAX_WEEKS} weeks")
        self.first_week, self.end_week = first_week, end_week
        self.start_event, self.return_event = start_event, return_event
        weeks = end_week - first_week
        # cohort offset -> [users in the cohort, retained in week 1, ...]
        self.table = [[0] * (weeks - c) for c in range(weeks)]
        self.users = 0
        self.outside = 0  # users whose first use is outside the range

    def add_user(self, events: Iterable[tuple[float, str]]) -> None:
        cohort = None
        back: set[int] = set()
        previous = float("-inf")
        start_event, return_event = self.start_event, self.return_event
        for t, name in events:
            if t < previous:
                raise OutOfOrder("a user's events must arrive in time order")
            previous = t
            if cohort is None:
                if start_event is None or name == start_event:
                    cohort = week_of(t)
                    if not self.first_week <= cohort < self.end_week:
                        self.outside += 1
                        return  # the rest of this user's events change nothing
                continue
            if return_event is None or name == return_event:
                offset = week_of(t) - cohort
                if offset > 0:
                    back.add(offset)
        if cohort is None:
            return
        self.users += 1
        row = self.table[cohort - self.first_week]
        row[0] += 1
        for offset in back:
            if offset < len(row):
                row[offset] += 1

    def result(self) -> dict:
        cohorts = []
        for c, row in enumerate(self.table):
            size = row[0]
            cohorts.append(
                {
                    "week_start": week_start(self.first_week + c).date().isoformat(),
                    "users": size,
                    "retained": list(row),
                    "share": [round(n / size, 6) if size else None for n in row],
                }
            )
        return {
            "weeks": self.end_week - self.first_week,
            "users": self.users,
            "start_event": self.start_event,
            "return_event": self.return_event,
            "cohorts": cohorts,
        }


def retention_from(events: Iterable[tuple[str, object, str]], **options) -> RetentionStats:
    """Retention over (user, time, name) events ordered by user then time."""
    stats = RetentionStats(**options)
    for _user, run in groupby(events, key=itemgetter(0)):
        stats.add_user((seconds(moment), name) for _, moment, name in run)
    return stats
