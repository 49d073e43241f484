"""The real OpenTelemetry SDK exports to the live test server: POST /v1/metrics stores what it sent."""

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from monitoring.models import Metric, MetricSample

DELTA = AggregationTemporality.DELTA
CUMULATIVE = AggregationTemporality.CUMULATIVE


def exporter_for(live_server, raw_key, temporality):
    return OTLPMetricExporter(
        endpoint=f"{live_server.url}/v1/metrics",
        headers={"Authorization": f"Bearer {raw_key}"},
        preferred_temporality={Counter: temporality, Histogram: temporality, UpDownCounter: CUMULATIVE},
        timeout=10,
    )


@pytest.fixture
def provider_for(live_server, service_key):
    made = []

    def make(temporality=CUMULATIVE, raw_key=None, resource=None, views=()):
        exporter = exporter_for(live_server, raw_key or service_key.raw, temporality)
        # A huge interval: only force_flush exports, so the test decides when.
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        attributes = resource or {"service.name": "checkout", "host.name": "web-1", "team": "dropped"}
        provider = MeterProvider(resource=Resource.create(attributes), metric_readers=[reader], views=list(views))
        made.append(provider)
        return provider, exporter

    yield make
    for provider in made:
        provider.shutdown()


def values(service, name, **labels):
    rows = MetricSample.objects.filter(service=service, name=name).order_by("time", "id")
    return [r.value for r in rows if all(r.labels.get(k) == v for k, v in labels.items())]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("temporality", [CUMULATIVE, DELTA], ids=["cumulative", "delta"])
def test_counter_updown_gauge_and_histogram_arrive(provider_for, service, temporality):
    provider, _ = provider_for(temporality)
    meter = provider.get_meter("shop")
    requests = meter.create_counter("http.server.requests", unit="{request}")
    active = meter.create_up_down_counter("jobs.active")
    duration = meter.create_histogram("http.server.duration", unit="s")
    meter.create_observable_gauge("queue.depth", callbacks=[lambda options: [Observation(42, {"queue": "mail"})]])

    requests.add(5, {"route": "/cart"})
    active.add(10)
    duration.record(0.2, {"route": "/cart"})
    duration.record(3, {"route": "/cart"})
    assert provider.force_flush(10_000)
    requests.add(3, {"route": "/cart"})
    active.add(-4)
    duration.record(7, {"route": "/cart"})
    assert provider.force_flush(10_000)

    # Increments whatever the temporality: cumulative totals become the difference per export.
    assert values(service, "http_server_requests_total", route="/cart") == [5.0, 3.0]
    assert values(service, "jobs_active") == [10.0, 6.0]
    assert values(service, "queue_depth", queue="mail") == [42.0, 42.0]
    assert values(service, "http_server_duration_seconds_count", route="/cart") == [2.0, 1.0]
    assert values(service, "http_server_duration_seconds_sum", route="/cart") == pytest.approx([3.2, 7.0])
    assert values(service, "http_server_duration_seconds_bucket", route="/cart", le="5.0") == [2.0, 0.0]
    assert values(service, "http_server_duration_seconds_bucket", route="/cart", le="10.0") == [2.0, 1.0]
    assert values(service, "http_server_duration_seconds_bucket", route="/cart", le="+Inf") == [2.0, 1.0]

    kinds = dict(Metric.objects.values_list("name", "kind"))
    assert kinds["http_server_requests_total"] == "counter"
    assert kinds["jobs_active"] == kinds["queue_depth"] == "gauge"
    labels = MetricSample.objects.filter(name="http_server_requests_total").first().labels
    # host.name and service.instance.id (the SDK sets one per process) are on the allow-list,
    # service.name and team are not.
    assert set(labels) == {"route", "host_name", "service_instance_id"}
    assert labels["host_name"] == "web-1"


@pytest.mark.django_db(transaction=True)
def test_a_restarted_process_counts_from_zero_again(provider_for, service):
    resource = {"service.name": "checkout", "service.instance.id": "web-1"}  # the same series both times
    first, _ = provider_for(resource=resource)
    first.get_meter("shop").create_counter("orders").add(7)
    assert first.force_flush(10_000)
    first.shutdown()
    second, _ = provider_for(resource=resource)  # a new process: a new start time, its total starts at 0
    second.get_meter("shop").create_counter("orders").add(2)
    assert second.force_flush(10_000)
    # shutdown() exports once more (nothing new: 0); the new start time is a reset, not -5.
    assert values(service, "orders_total", service_instance_id="web-1") == [7.0, 0.0, 2.0]


@pytest.mark.django_db(transaction=True)
def test_a_wrong_key_is_refused_and_nothing_is_stored(provider_for, service):
    provider, _ = provider_for(raw_key="pk_nothing_here")
    provider.get_meter("shop").create_counter("orders").add(1)
    provider.force_flush(10_000)
    assert not MetricSample.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_another_services_key_cannot_write_as_this_service(provider_for, service, other_key):
    provider, _ = provider_for(raw_key=other_key.raw)  # the resource says service.name=checkout
    provider.get_meter("shop").create_counter("orders").add(1)
    provider.force_flush(10_000)
    assert not MetricSample.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_exponential_histogram_arrives_within_the_documented_bucket_error(provider_for, service, settings):
    view = View(instrument_type=Histogram, aggregation=ExponentialBucketHistogramAggregation(max_size=160))
    provider, _ = provider_for(views=[view])
    recorded = [0.004, 0.2, 0.25, 1.0, 3.0, 3.1, 40.0, 900.0]
    histogram = provider.get_meter("shop").create_histogram("job.duration", unit="s")
    for value in recorded:
        histogram.record(value, {"queue": "mail"})
    assert provider.force_flush(10_000)

    assert values(service, "job_duration_seconds_count", queue="mail") == [len(recorded)]
    assert values(service, "job_duration_seconds_sum", queue="mail") == pytest.approx([sum(recorded)])
    buckets = MetricSample.objects.filter(service=service, name="job_duration_seconds_bucket")
    counts = {row.labels["le"]: row.value for row in buckets}
    assert counts.pop("+Inf") == len(recorded)
    # Re-bucketed to scale OTLP_EXPONENTIAL_SCALE: a value is only known within a factor of
    # 2**(2**-scale) (1.19 at the default 2), so each cumulative count lies between the values
    # surely under the bound and those possibly under it.
    factor = 2 ** (2**-settings.OTLP_EXPONENTIAL_SCALE)
    assert len(counts) >= 6
    for le, count in counts.items():
        bound = float(le)
        surely = sum(v <= bound / factor for v in recorded)
        possibly = sum(v <= bound * factor for v in recorded)
        assert surely <= count <= possibly, (le, count)
    by_bound = [counts[le] for le in sorted(counts, key=float)]
    assert by_bound == sorted(by_bound)
