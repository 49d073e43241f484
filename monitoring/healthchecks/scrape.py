"""A scrape target's health, derived from what its last scrape recorded (framework-free).

The scrape sweep writes each target's last scrape (time, ok or error, duration, series) on the
target; a health check of kind `scrape` judges that record instead of fetching the exporter a
second time. Like heartbeats, the status is derived when the check runs, never stored as a flag:
- unhealthy: the target is disabled, its last scrape failed, or no scrape happened for more than
  `max_intervals` scrape periods (the exporter may be fine, but the portal no longer sees it:
  the worker is down, or the target is stuck in a claim);
- degraded: the last scrape took longer than `degraded_ms`;
- healthy otherwise (also while a new target waits for its first scrape, within the same grace).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitoring.healthchecks.status import DEGRADED, HEALTHY, UNHEALTHY

# The sweep runs once a minute: a target set to 15 s is still scraped once a minute, so a
# period shorter than that must not make it look stale.
SWEEP_SECONDS = 60
DEFAULT_MAX_INTERVALS = 3
MAX_INTERVALS = 100  # past this a stale target would go unnoticed for days (100 x a daily target)


@dataclass(frozen=True)
class ScrapeRecord:
    """What a ScrapeTarget row says about its scrapes."""

    url: str
    enabled: bool
    interval_seconds: int
    created_at: datetime
    last_scrape_at: datetime | None
    last_ok: bool | None
    last_error: str
    last_duration_ms: int | None
    last_samples: int | None


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def scrape_period(record: ScrapeRecord) -> timedelta:
    return timedelta(seconds=max(record.interval_seconds, SWEEP_SECONDS))


def scrape_status(
    record: ScrapeRecord, *, now: datetime, max_intervals: int = DEFAULT_MAX_INTERVALS, degraded_ms: float | None = None
) -> tuple[str, str]:
    """(status, message) of a scrape target at `now`."""
    if not record.enabled:
        return UNHEALTHY, "the target is disabled: nothing scrapes it"
    allowed = scrape_period(record) * max_intervals
    reference = record.last_scrape_at or record.created_at
    if now - reference > allowed:
        seconds = int(allowed.total_seconds())
        if record.last_scrape_at is None:
            return UNHEALTHY, f"never scraped since it was added at {_at(record.created_at)} (allowed {seconds} s)"
        return UNHEALTHY, (
            f"stale: last scrape at {_at(record.last_scrape_at)}, more than {max_intervals} scrape "
            f"periods ({seconds} s) ago; is the worker running?"
        )
    if record.last_scrape_at is None:
        return HEALTHY, "waiting for the first scrape"
    if not record.last_ok:
        return UNHEALTHY, f"last scrape at {_at(record.last_scrape_at)} failed: {record.last_error or 'no detail'}"
    took = record.last_duration_ms or 0
    if degraded_ms is not None and took > degraded_ms:
        return DEGRADED, f"slow: the last scrape took {took} ms (degraded above {degraded_ms:g} ms)"
    note = f"; {record.last_error}" if record.last_error else ""  # series refused over the limit, etc.
    return HEALTHY, f"up: {record.last_samples or 0} series in {took} ms at {_at(record.last_scrape_at)}{note}"
