"""Task schedules as cron expressions, in words, and their next run times.

Framework-free (croniter and cron-descriptor only), so the rules can be tested alone. Every
schedule type is reduced to one cron expression here, and the words and the next run times are
both read from it, so what the page says and when the task runs cannot disagree.
"""

from __future__ import annotations

from datetime import datetime, time

from croniter import croniter

MANUAL, DAILY, WEEKLY, MONTHLY, CRON = "manual", "daily", "weekly", "monthly", "cron"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CRON_MAX = 100


def cron_error(expression: str) -> str | None:
    """Why `expression` is not an acceptable five-field cron expression, or None."""
    if not expression or not expression.strip():
        return "A cron schedule needs a cron expression, e.g. '30 2 * * 1-5'."
    if len(expression) > CRON_MAX:
        return f"At most {CRON_MAX} characters."
    if len(expression.split()) != 5:
        return "Give five fields: minute hour day-of-month month day-of-week."
    if not croniter.is_valid(expression):
        return f"'{expression}' is not a valid cron expression."
    return None


def cron_for(schedule: str, *, at: time, weekday: int = 0, day_of_month: int = 1, cron: str = "") -> str | None:
    """The cron expression a schedule means (None for manual). `weekday` counts from Monday = 0."""
    if schedule == MANUAL:
        return None
    if schedule == CRON:
        return cron.strip()
    if schedule == DAILY:
        return f"{at.minute} {at.hour} * * *"
    if schedule == WEEKLY:
        return f"{at.minute} {at.hour} * * {(weekday + 1) % 7}"  # cron counts from Sunday = 0
    if schedule == MONTHLY:
        return f"{at.minute} {at.hour} {day_of_month} * *"
    raise ValueError(f"unknown schedule {schedule!r}")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def schedule_words(
    schedule: str, *, at: time, weekday: int = 0, day_of_month: int = 1, cron: str = "", zone: str = "UTC"
) -> str:
    if schedule == MANUAL:
        return "Manual only"
    clock = f"{at.hour:02d}:{at.minute:02d} {zone}"
    if schedule == DAILY:
        return f"Every day at {clock}"
    if schedule == WEEKLY:
        return f"Every {WEEKDAYS[weekday]} at {clock}"
    if schedule == MONTHLY:
        return f"On the {_ordinal(day_of_month)} of every month at {clock}"
    # Only pages show cron schedules in words: every process imports this module (the task
    # model's choices), and cron-descriptor is ~3 ms of every command's start-up.
    from cron_descriptor import Options, get_description

    options = Options()
    options.use_24hour_time_format = True
    try:
        return f"{get_description(cron, options)} ({zone})"
    except Exception:  # cron-descriptor raises its own types for what croniter accepted: keep the page up
        return f"cron '{cron}' ({zone})"


def next_runs(expression: str | None, *, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` times (timezone-aware, in `after`'s zone) the expression fires."""
    if not expression:
        return []
    it = croniter(expression, after)
    return [it.get_next(datetime) for _ in range(count)]
