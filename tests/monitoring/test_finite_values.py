"""Values are bounded at ingest, and every aggregate and JSON answer stays finite, even over rows
stored before the bound (two samples of 1e308 once made sum/avg/rate answer 500)."""

import json
import math
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from monitoring.labels import MAX_ABS_VALUE, MetricError
from monitoring.metrics import Counter, Gauge, Registry
from monitoring.models import HourRollup, Metric, MetricSample, MetricTotal, MinuteRollup
from monitoring.query import series_query, window_aggregates
from monitoring.rollups import prune_run, rollup_run
from monitoring.sketches import sketch_from_values
from portal.api.renderers import FiniteJSONRenderer
from portal.charts import PortalChartView
from portal.lib.finite import FLOAT_MAX, finite_sum, json_finite

URL = "/api/v1/metrics/"
AGGS = ("sum", "avg", "rate", "min", "max", "last", "count", "p50", "p99")


def strict_json(text):
    """Python's json accepts Infinity and NaN; browsers' JSON.parse and most clients do not."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def post(client, samples):
    return client.post(URL, data=json.dumps({"samples": samples}), content_type="application/json")


def query(client, agg, name="big_total", **params):
    response = client.get(URL + "query/", {"name": name, "agg": agg, "service": "checkout", **params})
    assert response.status_code == 200, response.content
    return strict_json(response.content)


@pytest.mark.parametrize("value", [MAX_ABS_VALUE, -MAX_ABS_VALUE, 10**15, 0.5e-300])
def test_values_up_to_the_bound_are_accepted(key_client, value):
    assert post(key_client, [{"name": "bytes_total", "value": value}]).status_code == 201


@pytest.mark.parametrize("value", [1e15 + 1, -1e16, 1e308, 10**16, 10**400])
def test_values_beyond_the_bound_are_refused_naming_the_field(key_client, value):
    raw = json.dumps({"samples": [{"name": "ok", "value": 1}, {"name": "bytes_total", "value": value}]})
    response = key_client.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "samples[1].value" and "between -1e+15 and 1e+15" in error["message"]
    assert not MetricSample.objects.exists()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused_naming_the_field(key_client, literal):
    raw = '{"samples": [{"name": "x", "value": ' + literal + "}]}"
    response = key_client.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "samples[0].value"


def test_the_in_process_registry_refuses_values_beyond_the_bound():
    registry = Registry()
    with pytest.raises(MetricError, match="between"):
        Counter("c_total", registry=registry).inc(1e16)
    with pytest.raises(MetricError, match="between"):
        Gauge("g", registry=registry).set(-1e16)


def test_many_values_at_the_bound_aggregate_to_finite_numbers(key_client, api_client):
    now = timezone.now()
    samples = [
        {"name": "big_total", "value": MAX_ABS_VALUE, "time": (now - timedelta(seconds=s)).isoformat()}
        for s in range(1, 1001)
    ]
    assert post(key_client, samples).status_code == 201
    viewer = api_client("viewer")
    for agg in AGGS:
        values = [p[1] for s in query(viewer, agg, step=3600)["series"] for p in s["points"] if p[1] is not None]
        assert values and all(math.isfinite(v) for v in values), agg
    total = query(viewer, "sum", step=3600)["series"][0]["points"]
    assert sum(p[1] or 0 for p in total) == 1000 * MAX_ABS_VALUE


@pytest.fixture
def legacy(db, put, service):
    """Two samples of 1e308 written before values were bounded (or around validation)."""
    Metric.objects.create(name="big_total", kind="counter")
    moment = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=2)
    for seconds in (5, 10):
        put(service, "big_total", 1e308, moment + timedelta(seconds=seconds))
    return moment


def test_legacy_huge_rows_never_500_and_json_stays_json(legacy, api_client):
    viewer = api_client("viewer")
    since, until = (legacy - timedelta(minutes=5)).isoformat(), (legacy + timedelta(minutes=5)).isoformat()
    for agg in AGGS:
        body = query(viewer, agg, since=since, until=until)
        values = [p[1] for p in body["series"][0]["points"] if p[1] is not None]
        assert all(math.isfinite(v) for v in values), agg
    points = dict(query(viewer, "max", since=since, until=until)["series"][0]["points"])
    assert points[legacy.isoformat()] == 1e308
    assert dict(query(viewer, "sum", since=since, until=until)["series"][0]["points"])[legacy.isoformat()] == FLOAT_MAX


def test_legacy_huge_rows_roll_up_and_prune(legacy, client, settings, service):
    done = rollup_run(now=timezone.now())
    assert done["rows"] == 1
    assert MinuteRollup.objects.get().sum == FLOAT_MAX  # saturated, not inf, NaN or an exception
    hour = HourRollup.objects.get()
    assert hour.sum == FLOAT_MAX and hour.count == 2
    aggregates = window_aggregates(name="big_total", since=legacy - timedelta(hours=1), until=timezone.now())
    assert all(math.isfinite(agg.value("avg")) for agg in aggregates.values())
    response = client.get("/metrics")
    assert response.status_code == 200
    text_string_to_metric_families(response.content.decode())  # parses
    settings.METRICS_HOUR_RETENTION_DAYS = 0
    settings.METRICS_MINUTE_RETENTION_DAYS = 0
    settings.METRICS_RAW_RETENTION_DAYS = 0
    prune_run(now=timezone.now() + timedelta(hours=3))
    assert MetricTotal.objects.get().sum == FLOAT_MAX
    assert client.get("/metrics").status_code == 200


def test_metric_chart_json_parses_strictly(legacy, page_client, service):
    MetricSample.objects.filter(name="big_total").update(time=timezone.now() - timedelta(minutes=3))
    response = page_client("viewer").get(f"/monitoring/charts/{service.slug}/big_total/", {"agg": "sum"})
    assert response.status_code == 200
    data = strict_json(response.content)
    assert data["datasets"] and all(v is None or math.isfinite(v) for v in data["datasets"][0]["data"])


def test_series_query_maps_non_finite_results_to_none(legacy, service):
    found = series_query(name="big_total", since=legacy, until=legacy + timedelta(minutes=1), agg="sum")
    assert [v for _, v in found[0].points] == [FLOAT_MAX]


@pytest.mark.parametrize(
    ("values", "total"),
    [
        ([1.0, 2.0, 3.0], 6.0),
        ([1e308, 1e308], FLOAT_MAX),
        ([-1e308, -1e308], -FLOAT_MAX),
        ([1e308, 1e308, -1e308], 1e308),  # exact where an intermediate overflowed
        ([math.inf, -math.inf, 5.0], 5.0),  # saturated at the edges instead of NaN
        ([math.nan, 2.0], 2.0),
        ([], 0.0),
    ],
)
def test_finite_sum(values, total):
    assert finite_sum(values) == total


def test_sketches_of_huge_values_do_not_overflow():
    for count in (2, 100):  # the plain-Python and the numpy path
        assert sketch_from_values([1e308] * count).sum == FLOAT_MAX


def test_api_renderer_writes_null_for_non_finite_floats():
    rendered = FiniteJSONRenderer().render({"value": math.inf, "points": [[1, math.nan], [2, 3.5]]})
    assert strict_json(rendered) == {"value": None, "points": [[1, None], [2, 3.5]]}


def test_chart_json_writes_null_for_non_finite_floats():
    text = PortalChartView().convert_context_to_json({"datasets": [{"data": [1.0, math.inf, -math.inf, math.nan]}]})
    assert strict_json(text) == {"datasets": [{"data": [1.0, None, None, None]}]}
    assert json_finite((1.0, {"a": math.nan})) == [1.0, {"a": None}]
