"""Numbers, effort and times as people read them (portal/templatetags/humanize_ops.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from portal.templatetags.humanize_ops import duration, minutes_human, number, percent, when


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (812.0, "812"),
        (812.4567, "812"),
        (1234567.8, "1,234,568"),
        (1234567, "1,234,567"),
        (12.345, "12.3"),
        (0.012345, "0.0123"),
        (2.5, "2.5"),
        (100.0, "100"),
        (-0.5, "-0.5"),
        (0, "0"),
        (0.0, "0"),
        (0.00001234, "1.23e-05"),
        (1e16, "1.00e+16"),
        (None, "—"),
        ("n/a", "n/a"),
    ],
)
def test_number(value, shown):
    assert number(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(99.5, "99.5 %"), (99.996, "99.996 %"), (100, "100 %"), (0.004, "0.004 %"), (42.0, "42 %"), (None, "—")],
)
def test_percent_never_rounds_to_a_round_figure_it_is_not(value, shown):
    assert percent(value) == shown


@pytest.mark.parametrize(
    ("minutes", "shown"),
    [(0, "0 min"), (45, "45 min"), (60, "1 h"), (150, "2 h 30 min"), (1440, "1 d"), (4560, "3 d 4 h"), (None, "—")],
)
def test_minutes_human(minutes, shown):
    assert minutes_human(minutes) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (timedelta(milliseconds=850), "0.85 s"),
        (12.34, "12.3 s"),
        (timedelta(minutes=4, seconds=5), "4 min 5 s"),
        (timedelta(hours=2, minutes=3), "2 h 3 min"),
        (None, "—"),
    ],
)
def test_duration(value, shown):
    assert duration(value) == shown


def test_when_is_24_hour_with_the_zone(settings):
    moment = datetime(2026, 3, 2, 21, 5, 9, tzinfo=UTC)
    assert when(moment) == "2026-03-02 21:05 UTC"
    assert when(moment, "s") == "2026-03-02 21:05:09 UTC"
    assert when(moment, "time") == "21:05 UTC"
    with timezone.override("Europe/Berlin"):
        assert when(moment) == "2026-03-02 22:05 CET"
    assert when(None) == "—"


def test_filters_in_a_template():
    html = Template("{% load humanize_ops %}{{ v|number }} · {{ m|minutes_human }} · {{ t|when }}").render(
        Context({"v": 1875.0, "m": 90, "t": datetime(2026, 3, 2, 9, 0, tzinfo=UTC)})
    )
    assert html == "1,875 · 1 h 30 min · 2026-03-02 09:00 UTC"
