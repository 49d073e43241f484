"""Numbers, durations and times as people read them; one set of filters for every page.

{% load humanize_ops %}
{{ alert.value|number }}        812 · 1,234,568 · 0.0123 · 12.3
{{ uptime|percent }}            99.5 % (never "100 %" for 99.996)
{{ minutes|minutes_human }}     45 min · 2 h 30 min · 3 d 4 h
{{ created_at|when }}           2026-03-02 09:00 UTC (24-hour, in TIME_ZONE, with the zone)
{{ created_at|when:"s" }}       2026-03-02 09:00:05 UTC
{{ fires_at|when:"time" }}      09:00 UTC
"""

import math
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.formats import date_format, get_format

register = template.Library()
DASH = "—"


def _number(value) -> float | int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return value if isinstance(value, int) else float(value)
    except (TypeError, ValueError):
        return None


def number_text(value, digits: int = 3) -> str:
    """Whole numbers in full with thousands separators; fractions to `digits` significant
    digits (no trailing zeros); tiny or huge magnitudes in scientific notation."""
    x = _number(value)
    if x is None:
        return DASH if value is None or value == "" else str(value)
    if isinstance(x, int):
        return f"{x:,}"
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    magnitude = abs(x)
    if magnitude >= 1e15 or magnitude < 1e-3:
        return f"{x:.{digits - 1}e}"
    if magnitude >= 10 ** (digits - 1):
        return f"{round(x):,}"
    decimals = digits - 1 - math.floor(math.log10(magnitude))
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def number(value, digits=3) -> str:
    return number_text(value, int(digits))


@register.filter
def percent(value, decimals=1) -> str:
    """A 0-100 figure. Rounding never claims a round 100 % (or 0 %) that is not exact."""
    x = _number(value)
    if x is None:
        return DASH
    decimals = int(decimals)
    text = f"{x:.{decimals}f}"
    while decimals < 4 and float(text) in (0.0, 100.0) and x not in (0, 100):
        decimals += 1
        text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} %"


@register.filter
def minutes_human(value) -> str:
    """Work estimates: 45 min, 2 h 30 min, 3 d 4 h (calendar days of 24 h)."""
    x = _number(value)
    if x is None:
        return DASH
    total = round(x)
    if total < 60:
        return f"{total} min"
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days:,} d {hours} h" if hours else f"{days:,} d"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def duration(value) -> str:
    """A timedelta or seconds: 0.85 s, 12.3 s, 4 min 5 s, then as minutes_human."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else _number(value)
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{number_text(seconds)} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    return minutes_human(seconds / 60)


@register.filter
def when(value, detail="") -> str:
    """A moment in the portal's time zone, 24-hour, with the zone: the DATETIME_FORMAT of
    portal/formats (what the admin shows too). detail: "s" adds seconds, "time" is the time only."""
    if not isinstance(value, datetime):
        return DASH if value in (None, "") else str(value)
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    fmt = get_format("DATETIME_FORMAT")
    if detail == "s":
        fmt = fmt.replace("H:i", "H:i:s")
    elif detail == "time":
        fmt = get_format("TIME_FORMAT") + " T"
    return date_format(value, fmt)
