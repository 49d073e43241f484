"""Heartbeat status from the ping times, derived on demand (never stored as a flag).

Like cron monitoring: a job pings at the end of each run; the next ping is due one period (or
the next cron time, UTC) after the last one, and after `grace` more without a ping the check is
unhealthy. A `start` ping with no success ping within grace is unhealthy too (a hung run);
a `fail` ping is unhealthy until the next success. Imports nothing from Django.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from monitoring.healthchecks.status import DEGRADED, HEALTHY, UNHEALTHY


@dataclass(frozen=True)
class Beat:
    created_at: datetime
    last_ping_at: datetime | None
    last_start_at: datetime | None
    last_fail_at: datetime | None
    period_seconds: int | None
    cron: str
    grace_seconds: int


def cron_valid(expression: str) -> bool:
    return croniter.is_valid(expression)


def next_due(beat: Beat, reference: datetime) -> datetime:
    if beat.cron:
        # croniter reads the expression in its base's zone; cron schedules are UTC.
        return croniter(beat.cron, reference.astimezone(UTC)).get_next(datetime)
    return reference + timedelta(seconds=beat.period_seconds or 0)


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def heartbeat_status(beat: Beat, *, now: datetime) -> tuple[str, str]:
    grace = timedelta(seconds=beat.grace_seconds)
    ping = beat.last_ping_at
    fail = beat.last_fail_at
    start = beat.last_start_at
    running = start is not None and (ping is None or start > ping) and (fail is None or start > fail)
    if fail is not None and (ping is None or fail >= ping) and not running:
        return UNHEALTHY, f"the job reported a failure at {_at(fail)}"
    if running:
        if now > start + grace:
            return UNHEALTHY, f"started at {_at(start)} and did not finish within the grace time"
        return HEALTHY, f"running since {_at(start)}"
    due = next_due(beat, ping or beat.created_at)
    if now <= due:
        if ping is None:
            return HEALTHY, f"waiting for the first ping, due by {_at(due)}"
        return HEALTHY, f"last ping {_at(ping)}, next due by {_at(due)}"
    if now <= due + grace:
        return DEGRADED, f"late: expected by {_at(due)}, unhealthy after {_at(due + grace)}"
    since = f"since {_at(ping)}" if ping else "ever"
    return UNHEALTHY, f"no ping {since}; expected by {_at(due)}"
