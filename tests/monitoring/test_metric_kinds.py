"""What each metric name is (its kind) is read from the database for every batch: an edit or a
delete in the admin, made in another process, counts at once (a per-process cache hid a deleted
metric from /metrics until every process restarted)."""

import pytest

from monitoring.ingest import IngestInvalid, metrics_ingest
from monitoring.models import Metric

pytestmark = pytest.mark.django_db


def ingest(service, **item):
    return metrics_ingest(service=service, items=[{"name": "orders_total", "value": 1, **item}])


def test_a_metric_deleted_elsewhere_is_registered_again_by_the_next_sample(service, client):
    ingest(service, type="counter")
    # What the admin of another process does: this process holds no reference to it.
    Metric.objects.filter(name="orders_total").delete()
    ingest(service, type="counter")
    assert Metric.objects.get(name="orders_total").kind == "counter"
    assert "# TYPE orders_total counter" in client.get("/metrics").content.decode()


def test_a_kind_changed_elsewhere_applies_to_the_next_batch(service):
    ingest(service, type="gauge")
    Metric.objects.filter(name="orders_total").update(kind="counter")
    with pytest.raises(IngestInvalid) as caught:
        ingest(service, type="gauge")
    assert caught.value.errors[0].message == "orders_total is stored as a counter"
    with pytest.raises(IngestInvalid):
        ingest(service, value=-1)  # a counter increment cannot be negative
