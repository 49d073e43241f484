import json
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Metric, MetricSample
from tests.conftest import ACTORS

URL = "/api/v1/metrics/"


def sample(**overrides):
    return {"name": "orders_total", "value": 1, "labels": {"channel": "web"}, "type": "counter", **overrides}


def post(client, body, **headers):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **headers)


@pytest.mark.parametrize(
    ("actor", "expected"),
    [("anonymous", 401), ("viewer", 403), ("operator", 403), ("admin", 201), ("other_key", 403)],
)
def test_ingest_role_matrix(api_client, service, actor, expected):
    response = post(api_client(actor), {"service": "checkout", "samples": [sample()]})
    assert response.status_code == expected, response.content
    assert MetricSample.objects.filter(service=service).count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize(
    ("actor", "expected"), [(a, 401 if a == "anonymous" else 403 if a == "other_key" else 200) for a in ACTORS]
)
def test_read_role_matrix(api_client, service, actor, expected):
    client = api_client(actor)
    assert client.get(URL).status_code == expected
    assert client.get(URL + "query/", {"name": "orders_total"}).status_code == expected
    assert client.get(URL + "series/", {"name": "orders_total"}).status_code == expected


def test_a_key_writes_its_own_service_without_naming_it(key_client, service):
    earlier = (timezone.now() - timedelta(hours=1)).timestamp()
    response = post(key_client, {"samples": [sample(), sample(value=2.5, time=earlier)]})
    assert response.status_code == 201, response.json()
    assert response.json() == {"accepted": 2, "duplicate": False}
    assert sorted(MetricSample.objects.filter(service=service).values_list("value", flat=True)) == [1.0, 2.5]
    assert Metric.objects.get(name="orders_total").kind == "counter"


def test_a_key_cannot_write_another_service(key_client, other_service):
    response = post(key_client, {"service": "billing", "samples": [sample()]})
    assert response.status_code == 403
    assert "service" in response.json()["detail"]
    assert not MetricSample.objects.exists()


def test_a_bad_key_is_refused(client, service):
    response = post(client, {"samples": [sample()]}, HTTP_AUTHORIZATION="Bearer pk_deadbeef_nope")
    assert response.status_code == 401
    assert not MetricSample.objects.exists()


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (sample(name="bad name"), "samples[1].name"),
        (sample(value=float("nan")), "samples[1].value"),
        (sample(value=float("inf")), "samples[1].value"),
        ({"name": "orders_total"}, "samples[1].value"),
        (sample(value="3"), "samples[1].value"),
        (sample(labels={"service": "x"}), "samples[1].labels"),
        (sample(labels={"a": 1}), "samples[1].labels"),
        (sample(labels=[]), "samples[1].labels"),
        (sample(labels={"a": ["x"]}), "samples[1].labels"),
        (sample(name=["x"]), "samples[1].name"),
        (sample(value=None), "samples[1].value"),
        (sample(time=True), "samples[1].time"),
        (sample(time="yesterday"), "samples[1].time"),
        (sample(time="2026-01-01T00:00:00"), "samples[1].time"),
        (sample(type="summary"), "samples[1].type"),
        (sample(type="gauge"), "samples[1].type"),  # orders_total is a counter (the first item says so)
        ("nope", "samples[1].sample"),
    ],
)
def test_one_bad_item_rejects_the_whole_batch_naming_it(key_client, item, field):
    response = post(key_client, {"samples": [sample(), item, sample()]})
    assert response.status_code == 400, response.content
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert "nothing was written" in body["detail"]
    assert not MetricSample.objects.exists()


def test_nan_written_by_python_json_is_refused_by_field(key_client):
    raw = '{"samples": [{"name": "x", "value": NaN}]}'
    response = key_client.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "samples[0].value"


def test_oversize_batch_and_missing_samples(key_client, settings):
    settings.METRICS_INGEST_MAX_BATCH = 3
    response = post(key_client, {"samples": [sample()] * 4})
    assert response.status_code == 400
    assert "samples" in response.json()["detail"] and "at most 3" in response.json()["detail"]
    assert post(key_client, {"nothing": []}).json() == {"samples": ["This field is required."]}
    assert not MetricSample.objects.exists()


def test_an_oversize_body_is_refused_before_it_is_parsed(key_client, settings):
    settings.METRICS_INGEST_MAX_BODY_BYTES = 8192
    padded = {"samples": [sample()], "padding": "x" * 9000}
    response = post(key_client, padded)
    assert response.status_code == 413
    assert "samples" in response.json()["detail"]
    assert post(key_client, {"samples": [sample()]}).status_code == 201


def test_a_person_must_name_an_existing_service(api_client, service):
    admin = api_client("admin")
    assert post(admin, {"samples": [sample()]}).json() == {"service": ["This field is required."]}
    assert "service" in post(admin, {"service": "nope", "samples": [sample()]}).json()


def test_idempotent_retry_writes_nothing_again(key_client, other_key, service):
    body = {"samples": [sample(), sample(value=2)]}
    first = post(key_client, body, HTTP_IDEMPOTENCY_KEY="batch-1")
    again = post(key_client, body, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {"accepted": 2, "duplicate": True}
    assert MetricSample.objects.count() == 2
    other = key_client.__class__()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    assert post(other, body, HTTP_IDEMPOTENCY_KEY="batch-1").status_code == 201  # keys are per service
    assert MetricSample.objects.count() == 4


def test_an_invalid_batch_does_not_burn_its_idempotency_key(key_client):
    assert post(key_client, {"samples": [sample(value=None)]}, HTTP_IDEMPOTENCY_KEY="k").status_code == 400
    assert post(key_client, {"samples": [sample()]}, HTTP_IDEMPOTENCY_KEY="k").status_code == 201


def test_ingest_query_count_does_not_grow_with_the_batch(key_client, django_assert_max_num_queries):
    post(key_client, {"samples": [sample()]})  # registers the metric name
    items = [sample(value=i, labels={"channel": f"c{i % 7}"}) for i in range(500)]
    # 9 on PostgreSQL: key, metric kinds (read per batch, no per-process cache), idempotency key,
    # savepoint, batch row, COPY and its bookkeeping; none of them per sample.
    with django_assert_max_num_queries(9):
        assert post(key_client, {"samples": items}, HTTP_IDEMPOTENCY_KEY="big").status_code == 201


def test_query_returns_series_points(api_client, key_client):
    now = timezone.now().replace(second=0, microsecond=0)
    since = now - timedelta(minutes=3)
    items = [
        sample(name="cpu", type="gauge", value=v, time=(since + timedelta(minutes=i)).isoformat())
        for i, v in enumerate([10, 20, 30])
    ]
    assert post(key_client, {"samples": items}).status_code == 201
    response = api_client("viewer").get(
        URL + "query/",
        {
            "name": "cpu",
            "service": "checkout",
            "since": since.isoformat(),
            "until": now.isoformat(),
            "label": "channel=web",
        },
    )
    assert response.status_code == 200, response.json()
    series = response.json()["series"]
    assert len(series) == 1 and series[0]["labels"] == {"channel": "web", "service": "checkout"}
    assert [p[1] for p in series[0]["points"]] == [10.0, 20.0, 30.0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"name": "cpu", "step": 90}, "step"),
        ({"name": "cpu", "step": 60, "since": "2026-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "step"),
        ({"name": "cpu", "agg": "median"}, "agg"),
        ({}, "name"),
        ({"name": "cpu", "service": "nope"}, "service"),
    ],
)
def test_query_validation_names_the_field(api_client, params, field):
    response = api_client("viewer").get(URL + "query/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_series_lists_label_sets_from_rollups_and_raw(api_client, key_client, django_assert_max_num_queries):
    from monitoring.rollups import rollup_run

    old = (timezone.now() - timedelta(hours=2)).isoformat()
    assert post(key_client, {"samples": [sample(time=old), sample(labels={"channel": "app"})]}).status_code == 201
    rollup_run()
    post(key_client, {"samples": [sample(labels={"channel": "shop"})]})
    viewer = api_client("viewer")
    with django_assert_max_num_queries(6):
        response = viewer.get(URL + "series/", {"name": "orders_total", "service": "checkout"})
    assert [s["labels"]["channel"] for s in response.json()] == ["app", "shop", "web"]
    assert response.json()[0]["labels"]["service"] == "checkout"


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_batch_write_it_once(service):
    import threading

    from django.db import connection

    from monitoring.ingest import metrics_ingest
    from tests.support import on_postgres

    if not on_postgres():
        # The in-memory test database uses SQLite's shared cache, whose table locks ignore the
        # busy timeout; a real SQLite file (WAL + busy timeout) serialises these writers anyway.
        pytest.skip("concurrent writers need PostgreSQL in tests")

    outcomes, barrier = [], threading.Barrier(4)

    def retry():
        barrier.wait()
        try:
            outcomes.append(metrics_ingest(service=service, items=[sample(), sample()], idempotency_key="same"))
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.duplicate for o in outcomes) == [False, True, True, True]
    assert MetricSample.objects.count() == 2


def test_a_lone_surrogate_in_a_label_is_stored_as_the_replacement_character(key_client, service):
    # json.dumps escapes it; Python decodes it into text no database driver can write (was a 500).
    response = post(key_client, {"samples": [sample(labels={"channel": "w\ud800b"})]})
    assert response.status_code == 201, response.content
    assert MetricSample.objects.get().labels["channel"] == "w\ufffdb"
