"""Trend math on synthetic series (framework-free: no database)."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from portal.lib.linear import linear_fit, predict
from reporting.trends import anomalies, change, crossing, modified_z_scores, slope_per, trend

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _daily(values):
    return [(T0 + timedelta(days=i), v) for i, v in enumerate(values)]


def test_linear_fit_is_exact_on_a_line_with_epoch_seconds():
    xs = [1.8e9 + 60 * i for i in range(100)]
    slope, _ = linear_fit(xs, [3 * x - 7 for x in xs])
    assert slope == pytest.approx(3)
    assert predict(xs, [3 * x - 7 for x in xs], 2e9) == pytest.approx(6e9 - 7)
    assert linear_fit([5, 5], [1, 2]) is None
    assert linear_fit([1], [1]) is None


def test_slope_per_day_and_hour():
    points = _daily([10, 12, 14, 16])
    assert slope_per(points, "day") == pytest.approx(2)
    assert slope_per(points, "hour") == pytest.approx(2 / 24)


def test_change_against_the_previous_period():
    assert change([12, 14], [10, 10]) == (3.0, 30.0)
    assert change([1], [0]) == (1.0, None)
    assert change([], [1]) == (None, None)


def test_modified_z_flags_only_the_outlier():
    values = [10, 11, 10, 9, 10, 11, 9, 10, 60]
    # median 10, MAD 1: 60 scores 0.6745 * 50 = 33.7; 11 scores 0.67.
    assert modified_z_scores(values)[-1] == pytest.approx(33.725)
    assert anomalies(values) == [8]
    assert anomalies([5, 5, 5, 5, 6]) == [4]  # MAD 0: any departure is flagged
    assert anomalies([1, 2, 3, 4, 5]) == []


def test_forecast_time_until_the_line_crosses_the_threshold():
    points = _daily([50, 52, 54, 56, 58, 60])  # +2 per day, 60 on day 5
    now = T0 + timedelta(days=5)
    at, seconds = crossing(points, 90, now=now)
    assert seconds == pytest.approx(15 * 86400)
    assert at == now + timedelta(days=15)
    assert crossing(points, 40, now=now, above=False) == (None, None)  # heading away
    assert crossing(points, 55, now=now) == (now, 0.0)  # already there
    at, seconds = crossing(_daily([60, 58, 56]), 50, now=T0 + timedelta(days=2), above=False)
    assert seconds == pytest.approx(3 * 86400)
    assert crossing(_daily([5, 5, 5]), 9, now=now) == (None, None)


def test_trend_leaves_out_missing_points_and_summarises():
    result = trend(
        _daily([1, None, 3, math.nan, 5]), previous=_daily([1, 1]), unit="day", threshold=11, now=T0 + timedelta(days=4)
    )
    assert result.points == 3
    assert result.slope == pytest.approx(1)
    assert (result.mean, result.previous_mean, result.change, result.change_percent) == (3, 1, 2, 200)
    assert result.crosses_in_seconds == pytest.approx(6 * 86400)
    with pytest.raises(ValueError, match="unit"):
        trend([], unit="week")
