"""POST /v1/metrics as OTLP/HTTP defines it: protobuf and JSON bodies, gzip, limits, keys, partial
success, and the mapping of each point type (exponential histograms, summaries, delta sums)."""

import gzip
import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from monitoring.integrations.models import OtlpSeriesState
from monitoring.integrations.otlp import exponential_buckets, label_name, metric_name
from monitoring.models import Metric, MetricKind, MetricSample

URL = "/v1/metrics"
PROTOBUF = "application/x-protobuf"
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA


def now_nano(offset_s: float = 0) -> int:
    return int((time.time() + offset_s) * 1e9)


def export(metrics: list[dict], resource: dict | None = None) -> dict:
    """An ExportMetricsServiceRequest in the OTLP JSON mapping."""
    attributes = [{"key": k, "value": {"stringValue": v}} for k, v in (resource or {}).items()]
    return {
        "resourceMetrics": [
            {"resource": {"attributes": attributes}, "scopeMetrics": [{"scope": {"name": "t"}, "metrics": metrics}]}
        ]
    }


def sum_metric(name, value, *, temporality=CUMULATIVE, monotonic=True, start=1, attrs=None, unit=""):
    point = {"asDouble": value, "startTimeUnixNano": str(start), "timeUnixNano": str(now_nano())}
    point["attributes"] = [{"key": k, "value": {"stringValue": v}} for k, v in (attrs or {}).items()]
    return {
        "name": name,
        "unit": unit,
        "sum": {"dataPoints": [point], "aggregationTemporality": temporality, "isMonotonic": monotonic},
    }


def gauge_metric(name, value, **point):
    return {"name": name, "gauge": {"dataPoints": [{"asDouble": value, "timeUnixNano": str(now_nano()), **point}]}}


@pytest.fixture
def post(service_key):
    client = Client()

    def send(body, *, content_type="application/json", key=None, **headers):
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        auth = {"Authorization": f"Bearer {key or service_key.raw}"} if key != "" else {}
        return client.post(URL, body, content_type=content_type, headers={**auth, **headers})

    return send


def values(name, **labels):
    rows = MetricSample.objects.filter(name=name).order_by("time", "id")
    return [r.value for r in rows if all(r.labels.get(k) == v for k, v in labels.items())]


def test_a_json_body_is_answered_with_a_json_export_response(post, service):
    response = post(export([sum_metric("orders.placed", 4, attrs={"shop.region": "eu"})]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}  # no partial_success: everything was accepted
    assert values("orders_placed_total", shop_region="eu") == [4.0]
    assert MetricSample.objects.get().service == service


def test_a_gzipped_protobuf_body_is_read(post):
    message = json_format.ParseDict(export([gauge_metric("queue.depth", 12.5)]), ExportMetricsServiceRequest())
    response = post(gzip.compress(message.SerializeToString()), content_type=PROTOBUF, content_encoding="gzip")
    assert response.status_code == 200
    assert response["Content-Type"] == PROTOBUF
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    assert values("queue_depth") == [12.5]


def test_cumulative_sums_become_increments_and_a_drop_is_a_reset(post):
    for total in (10, 15, 15, 4):
        assert post(export([sum_metric("jobs.done", total, start=7)])).status_code == 200
    assert values("jobs_done_total") == [10.0, 5.0, 0.0, 4.0]
    state = OtlpSeriesState.objects.get()
    assert (state.name, state.value, state.start_unix_nano) == ("jobs_done_total", 4.0, 7)


def test_states_of_series_gone_for_the_raw_retention_are_dropped(post, service):
    gone = OtlpSeriesState.objects.create(
        service=service,
        name="old_total",
        labels_hash="0",
        start_unix_nano=1,
        value=3,
        updated_at=timezone.now() - timedelta(days=8),
    )
    post(export([sum_metric("jobs.done", 1)]))
    assert not OtlpSeriesState.objects.filter(pk=gone.pk).exists()
    assert OtlpSeriesState.objects.get().name == "jobs_done_total"


def test_a_cumulative_sum_without_a_start_time_is_a_baseline_first(post):
    post(export([sum_metric("jobs.done", 10, start=0)]))
    post(export([sum_metric("jobs.done", 13, start=0)]))
    assert values("jobs_done_total") == [3.0]


def test_sums_of_other_kinds(post):
    post(export([sum_metric("sent", 3, temporality=DELTA, unit="By")]))
    post(export([sum_metric("sent", 2, temporality=DELTA, unit="By")]))
    # A non-monotonic delta sum is added to a running total: the reading is the total.
    post(export([sum_metric("pool.size", 5, temporality=DELTA, monotonic=False)]))
    post(export([sum_metric("pool.size", -2, temporality=DELTA, monotonic=False)]))
    post(export([sum_metric("temp", 21.5, monotonic=False, unit="Cel")]))
    assert values("sent_bytes_total") == [3.0, 2.0]
    assert values("pool_size") == [5.0, 3.0]
    assert values("temp_celsius") == [21.5]
    kinds = dict(Metric.objects.values_list("name", "kind"))
    assert kinds == {"sent_bytes_total": "counter", "pool_size": "gauge", "temp_celsius": "gauge"}


def test_an_exponential_histogram_is_rebucketed_onto_a_fixed_grid(post, settings):
    settings.OTLP_EXPONENTIAL_SCALE = 0  # bounds are powers of two
    point = {
        "timeUnixNano": str(now_nano()),
        "count": "6",
        "sum": 20.0,
        "scale": 1,  # base sqrt(2): buckets 2..5 are (2, 2.83], (2.83, 4], (4, 5.66], (5.66, 8]
        "zeroCount": "1",
        "positive": {"offset": 2, "bucketCounts": ["1", "1", "1", "2"]},
    }
    metric = {"name": "size", "exponentialHistogram": {"dataPoints": [point], "aggregationTemporality": DELTA}}
    assert post(export([metric])).status_code == 200
    buckets = {s.labels["le"]: s.value for s in MetricSample.objects.filter(name="size_bucket")}
    assert buckets == {"0.0": 1.0, "4.0": 3.0, "8.0": 6.0, "+Inf": 6.0}
    assert values("size_count") == [6.0]
    assert values("size_sum") == [20.0]


def test_downscaling_keeps_counts_exact():
    point = metrics_pb2.ExponentialHistogramDataPoint(scale=3)
    point.positive.offset = -3
    point.positive.bucket_counts.extend([1, 2, 3, 4, 5, 6, 7, 8])  # indexes -3..4 at scale 3
    point.negative.offset = 0
    point.negative.bucket_counts.extend([9])
    pairs = exponential_buckets(point, 1)  # scale 1: index >> 2
    assert sum(count for _, count in pairs) == 45
    # Scale-3 buckets -3..-1 lie in (2**-0.5, 1], 0..3 in (1, 2**0.5], 4 in (2**0.5, 2].
    assert pairs == [(-1.0, 9), (1.0, 1 + 2 + 3), (2**0.5, 4 + 5 + 6 + 7), (2.0, 8)]


def test_a_summary_becomes_quantile_gauges_and_counters(post):
    point = {
        "timeUnixNano": str(now_nano()),
        "startTimeUnixNano": "5",
        "count": "4",
        "sum": 2.0,
        "quantileValues": [{"quantile": 0.5, "value": 0.4}, {"quantile": 0.99, "value": 0.9}],
    }
    assert post(export([{"name": "latency", "unit": "s", "summary": {"dataPoints": [point]}}])).status_code == 200
    quantiles = {s.labels["quantile"]: s.value for s in MetricSample.objects.filter(name="latency_seconds")}
    assert quantiles == {"0.5": 0.4, "0.99": 0.9}
    assert values("latency_seconds_count") == [4.0]


def test_refused_points_are_reported_in_partial_success(post):
    metrics = [
        gauge_metric("good", 1),
        gauge_metric("too.big", 1e300),
        gauge_metric("old", 1, timeUnixNano=str(now_nano(-30 * 86400))),
        sum_metric("refunds", -1, temporality=DELTA),
    ]
    response = post(export(metrics))
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedDataPoints"] == "3"
    assert "too.big: value must be between" in partial["errorMessage"]
    assert "older than the raw retention" in partial["errorMessage"]
    assert "cannot be negative" in partial["errorMessage"]
    assert values("good") == [1.0]
    assert MetricSample.objects.count() == 1


def test_a_name_stored_as_another_kind_is_refused(post):
    Metric.objects.create(name="orders_total", kind=MetricKind.GAUGE)
    response = post(export([sum_metric("orders", 1, temporality=DELTA)]))
    assert "orders_total is stored as a gauge" in response.json()["partialSuccess"]["errorMessage"]
    assert not MetricSample.objects.exists()


def test_resource_attributes_pass_the_allow_list_only(post, settings):
    settings.OTLP_RESOURCE_LABELS = ["deployment.environment"]
    resource = {"deployment.environment": "prod", "host.name": "web-1", "service.name": "checkout"}
    post(export([gauge_metric("up", 1)], resource=resource))
    assert MetricSample.objects.get().labels == {"deployment_environment": "prod"}


def test_too_many_samples_are_refused_past_the_limit(post, settings):
    settings.OTLP_MAX_SAMPLES = 100
    metrics = [gauge_metric(f"g{i}", i) for i in range(105)]
    partial = post(export(metrics)).json()["partialSuccess"]
    assert partial["rejectedDataPoints"] == "5"
    assert "OTLP_MAX_SAMPLES" in partial["errorMessage"]
    assert MetricSample.objects.count() == 100


def test_names_and_labels_follow_the_portals_rules():
    assert metric_name("http.server.request.duration", "s") == "http_server_request_duration_seconds"
    assert metric_name("process.cpu.time", "s", total=True) == "process_cpu_time_seconds_total"
    assert metric_name("requests_total", "{request}", total=True) == "requests_total"
    assert metric_name("cpu.utilization", "1", ratio=True) == "cpu_utilization_ratio"
    assert metric_name("9lives", "") == "_9lives"
    assert label_name("http.route") == "http_route"
    assert label_name("service") == "otel_service"
    assert label_name("le") == "otel_le"


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "says"),
    [
        (b"\xff\xff\xff", PROTOBUF, {}, 400, "body: not an OTLP"),
        (b'{"resourceMetrics": 5}', "application/json", {}, 400, "body: not an OTLP"),
        (b"not gzip", PROTOBUF, {"content_encoding": "gzip"}, 400, "Content-Encoding"),
        (b"x", PROTOBUF, {"content_encoding": "zstd-ish"}, 415, "Content-Encoding"),
        (b"{}", "text/plain", {}, 415, "Content-Type"),
    ],
)
def test_bad_bodies_are_refused_naming_the_problem(post, body, content_type, headers, status, says):
    response = post(body, content_type=content_type, **headers)
    assert response.status_code == status
    assert says in response.json()["message"]
    assert not MetricSample.objects.exists()


def test_bodies_past_the_limits_get_413(post, settings):
    settings.OTLP_MAX_BODY_BYTES = 10_000
    settings.OTLP_MAX_DECOMPRESSED_BYTES = 20_000
    big = export([gauge_metric(f"gauge_{i}", i) for i in range(400)])
    assert post(big).status_code == 413
    bomb = gzip.compress(b" " * 1_000_000)  # ~1 KB sent, 1 MB inflated: stopped at the limit
    response = post(bomb, content_type="application/json", content_encoding="gzip")
    assert response.status_code == 413
    assert "exceeds 20000 bytes" in response.json()["message"]


def test_keys_people_and_other_services(post, service, other_key, users):
    body = export([gauge_metric("up", 1)], resource={"service.name": "checkout"})
    assert post(body, key="pk_abcdefgh_unknown").status_code == 401
    assert post(body, key="").status_code == 401
    # Another service's key naming this service in service.name: refused, nothing written.
    refused = post(body, key=other_key.raw)
    assert refused.status_code == 403
    assert "service.name" in refused.json()["message"]
    # A login is no service key.
    client = Client()
    client.force_login(users["admin"])
    assert client.post(URL, json.dumps(body), content_type="application/json").status_code == 403
    assert Client().get(URL).status_code == 405
    assert not MetricSample.objects.exists()
    # Its own data, whatever service.name says about names the portal does not know.
    own = post(export([gauge_metric("up", 1)], resource={"service.name": "checkout-api"}), key=other_key.raw)
    assert own.status_code == 200
    assert MetricSample.objects.get().service.slug == "billing"


def test_queries_do_not_grow_with_the_series(post, django_assert_max_num_queries):
    post(export([sum_metric("warm", 1)]))  # keys, metric names: the first request's one-off reads

    def body(n):
        return export([sum_metric("jobs", i, attrs={"worker": str(i)}) for i in range(n)] + [gauge_metric("g", n)])

    with django_assert_max_num_queries(12):
        post(body(3))
    with django_assert_max_num_queries(12):
        post(body(200))
