"""Per-feature performance: figures from raw events and hour rollups, the minimum sample rule,
previous-period comparison, UTC series, and the features API (roles, ranges, bounds)."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import time_machine

from analytics.figures import FeatureAcc, figures_of, relative_change
from analytics.performance import Window, feature_detail, feature_rows, feature_series, window_for
from analytics.rollups import rollup_run
from analytics.store import events_insert
from monitoring.sketches import RELATIVE_ACCURACY
from tests.conftest import ACTORS

NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
URL = "/api/v1/analytics/features/"


def insert(service, name, durations, *, at: datetime, errors: int = 0, error_type="TimeoutError"):
    items = [
        {
            "name": name,
            "time": at.isoformat(),
            "duration_ms": float(d),
            **({"success": False, "error_type": error_type} if i < errors else {}),
        }
        for i, d in enumerate(durations)
    ]
    for start in range(0, len(items), 1000):
        events_insert(service=service, items=items[start : start + 1000], now=NOW)


def assert_quantiles(figures, values):
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        exact = float(np.quantile(values, q, method="lower"))
        assert getattr(figures, label) == pytest.approx(exact, rel=RELATIVE_ACCURACY * 1.01), label


def test_figures_follow_the_minimum_sample_rule():
    acc = FeatureAcc()
    for i in range(9):
        acc.add_event(i != 0, 10.0 if i < 5 else None, "" if i else "KeyError")
    few = figures_of(acc, min_samples=10)
    assert (few.count, few.errors, few.enough_data, few.success_rate, few.p95) == (9, 1, False, None, None)
    assert few.top_errors == [("KeyError", 1)]
    acc.add_event(True, None, "")
    enough = figures_of(acc, min_samples=10)
    assert (enough.enough_data, enough.error_rate, enough.success_rate) == (True, 0.1, 0.9)
    # Rates are given; five durations are still too few for percentiles.
    assert (enough.enough_durations, enough.p50) == (False, None)
    assert relative_change(12, 10) == pytest.approx(0.2) and relative_change(1, 0) is None


@pytest.mark.django_db
def test_short_ranges_read_raw_events_with_percentiles_within_the_sketch_error(service):
    values = np.random.default_rng(1).lognormal(4, 0.8, 3000)
    insert(service, "search", values, at=NOW - timedelta(minutes=20), errors=300)
    insert(service, "search", [1.0] * 10, at=NOW - timedelta(hours=2))  # outside 1h
    (row,) = feature_rows(window_for(range_name="1h", now=NOW), min_samples=30)
    assert (row.name, row.current.count, row.current.errors) == ("search", 3000, 300)
    assert row.current.error_rate == pytest.approx(0.1)
    assert row.current.top_errors == [("TimeoutError", 300)]
    assert_quantiles(row.current, values)
    assert row.previous.count == 10 and row.previous.enough_data is False  # 11:30-12:30's previous hour
    assert row.change["count"] == pytest.approx(299)


@pytest.mark.django_db
def test_long_ranges_read_rollups_plus_events_not_folded_yet(service):
    rng = np.random.default_rng(2)
    folded = rng.lognormal(3, 1, 2000)
    fresh = rng.lognormal(3, 1, 500)
    insert(service, "export", folded, at=NOW - timedelta(days=3), errors=20)
    rollup_run(now=NOW)
    insert(service, "export", fresh, at=NOW - timedelta(minutes=5))  # not folded yet
    window = window_for(range_name="7d", now=NOW)
    (row,) = feature_rows(window, min_samples=30)
    assert (row.current.count, row.current.errors) == (2500, 20)
    assert_quantiles(row.current, np.concatenate([folded, fresh]))
    rollup_run(now=NOW)  # folding the fresh events changes nothing in the figures
    (again,) = feature_rows(window, min_samples=30)
    assert (again.current.count, again.current.p95) == (2500, row.current.p95)


@pytest.mark.django_db
def test_a_feature_of_two_services_is_one_row_each_and_merged_in_detail(service, other_service):
    insert(service, "search", [10] * 40, at=NOW - timedelta(minutes=5))
    insert(other_service, "search", [30] * 40, at=NOW - timedelta(minutes=5), errors=40)
    window = window_for(range_name="1h", now=NOW)
    rows = feature_rows(window, min_samples=30)
    assert sorted((r.service_id, r.current.errors) for r in rows) == [(service.pk, 0), (other_service.pk, 40)]
    detail = feature_detail(window, name="search", min_samples=30)
    assert (detail.current.count, detail.current.error_rate) == (80, 0.5)
    only = feature_detail(window, name="search", service_id=service.pk, min_samples=30)
    assert only.current.count == 40


@pytest.mark.django_db
def test_series_are_bucketed_in_utc(service):
    insert(service, "search", [5] * 3, at=datetime(2026, 3, 2, 12, 10, 59, tzinfo=UTC))
    # 13:11 at +01:00 is 12:11 UTC
    insert(service, "search", [7] * 2, at=datetime(2026, 3, 2, 13, 11, tzinfo=timezone(timedelta(hours=1))))
    series = feature_series(Window(datetime(2026, 3, 2, 12, 0, tzinfo=UTC), NOW), name="search")
    assert series["step"] == 60 and len(series["starts"]) == 30
    assert series["starts"][10] == datetime(2026, 3, 2, 12, 10, tzinfo=UTC)
    assert (series["calls"][10], series["calls"][11], sum(series["calls"])) == (3, 2, 5)
    assert series["p95"][10] == pytest.approx(5, rel=0.01) and series["p95"][11] == pytest.approx(7, rel=0.01)
    assert series["p95"][12] is None
    rollup_run(now=NOW)
    day = feature_series(window_for(range_name="1d", now=NOW), name="search")
    assert day["step"] == 3600 and day["calls"][-1] == 5


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ACTORS)
def test_features_api_role_matrix(api_client, service, actor):
    expected = {"anonymous": 401, "other_key": 403}.get(actor, 200)
    client = api_client(actor)
    assert client.get(URL).status_code == expected
    assert client.get(URL + "reports.export/").status_code == expected


@pytest.mark.django_db
def test_features_api_figures_and_not_enough_data(api_client, service, settings):
    settings.ANALYTICS_MIN_SAMPLES = 5
    insert(service, "reports/export", [100] * 5, at=NOW - timedelta(minutes=1), errors=1)
    insert(service, "search", [10] * 2, at=NOW - timedelta(minutes=1))
    with time_machine.travel(NOW, tick=False):
        body = api_client("viewer").get(URL, {"range": "1h", "ordering": "-error_rate"}).json()
        detail = api_client("viewer").get(URL + "reports/export/", {"service": "checkout"}).json()
    assert body["min_samples"] == 5
    first, second = body["features"]
    assert (first["name"], first["error_rate"], first["service"]) == ("reports/export", 0.2, "checkout")
    assert (second["name"], second["enough_data"], second["error_rate"], second["p95"]) == ("search", False, None, None)
    assert detail["feature"]["count"] == 5 and detail["feature"]["p95"] == pytest.approx(100, rel=0.01)
    assert detail["series"]["step"] == 3600 and len(detail["series"]["calls"]) == 25


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"range": "2h"}, "range"),
        ({"range": "1h", "since": "2026-03-01T00:00:00Z"}, "range"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "since"),
        ({"since": "2024-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"service": "nope"}, "service"),
        ({"ordering": "colour"}, "ordering"),
    ],
)
def test_features_api_bounds_its_parameters(api_client, service, params, field):
    response = api_client("viewer").get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_the_features_list_costs_a_fixed_number_of_queries(api_client, service, django_assert_max_num_queries):
    for i in range(30):
        insert(service, f"feature.{i}", [1, 2, 3], at=NOW - timedelta(days=2))
    rollup_run(now=NOW)
    client = api_client("viewer")
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(12):
        body = client.get(URL, {"range": "7d"}).json()
    assert len(body["features"]) == 30


@pytest.mark.django_db
def test_the_schema_documents_the_features_answers_as_objects(api_client):
    schema = api_client("admin").get("/api/schema/?format=json").json()
    for path in ("/api/v1/analytics/features/", "/api/v1/analytics/features/{name}/"):
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in content, content  # one object (with its features), not an array
