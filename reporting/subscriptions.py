"""When a subscription's report is due, and which period it covers (no Django imports).

Schedules are kept in the subscriber's local time ("08:00 Europe/Berlin every Monday") and
each send instant is computed in that zone, then converted to UTC for the due-at column, so
a report stays at 08:00 local across daylight-saving changes.

Local times that do not exist or happen twice are settled the way Python's zoneinfo does
with fold=0 (PEP 495):
- a time skipped by a spring-forward change (02:30 in Europe/Berlin on the last Sunday of
  March) is read with the offset before the change, so the report goes at 03:30 local, one
  hour after 01:30 — the same instant that 02:30 winter time would have been;
- a time repeated by a fall-back change (02:30 on the last Sunday of October) is the first
  of the two.

A report covers whole local days ending at local midnight of the send day: yesterday for a
daily report, the 7 days before for a weekly one, the month before (same day number) for a
monthly one. The bounds are stored as UTC instants; a day with a DST change is 23 or 25 hours.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"
# A candidate day within this many days always exists (a monthly day 1-28 recurs within 31 days).
SEARCH_DAYS = 62


@dataclass(frozen=True)
class Schedule:
    frequency: str
    at: time
    zone: ZoneInfo
    weekday: int = 0  # Monday = 0
    monthday: int = 1  # 1-28

    def matches(self, day: date) -> bool:
        if self.frequency == DAILY:
            return True
        if self.frequency == WEEKLY:
            return day.weekday() == self.weekday
        if self.frequency == MONTHLY:
            return day.day == self.monthday
        raise ValueError(f"unknown frequency {self.frequency!r}")


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of `at` on `day` in `zone` (fold=0: see the module docstring)."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


def next_send(schedule: Schedule, *, after: datetime) -> datetime:
    """The first send instant strictly after `after` (aware), in UTC."""
    start = after.astimezone(schedule.zone).date() - timedelta(days=1)
    for offset in range(SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if not schedule.matches(day):
            continue
        instant = local_instant(day, schedule.at, schedule.zone)
        if instant > after:
            return instant
    raise ValueError("no send time found")  # unreachable for valid schedules


def _month_before(day: date) -> date:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return day.replace(year=year, month=month, day=min(day.day, 28))


def period_for(schedule: Schedule, *, send_at: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the report sent at `send_at`: whole local days before the send day."""
    end_day = send_at.astimezone(schedule.zone).date()
    if schedule.frequency == DAILY:
        start_day = end_day - timedelta(days=1)
    elif schedule.frequency == WEEKLY:
        start_day = end_day - timedelta(days=7)
    else:
        start_day = _month_before(end_day)
    midnight = time(0, 0)
    return local_instant(start_day, midnight, schedule.zone), local_instant(end_day, midnight, schedule.zone)
