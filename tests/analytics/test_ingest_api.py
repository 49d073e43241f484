"""POST /api/v1/events/: roles, envelope, item errors, 413, idempotency, rate limit, schema."""

import json

import pytest
from django.core.cache import cache

from analytics.models import UsageEvent
from portal.api.throttling import ServiceKeyWriteThrottle
from tests.conftest import ACTORS

URL = "/api/v1/events/"


def post(client, body, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers)


@pytest.mark.parametrize(
    ("actor", "expected"), [(a, {"anonymous": 401}.get(a, 403)) for a in ACTORS if a != "other_key"]
)
def test_only_a_service_key_writes_events(api_client, service, actor, expected):
    response = post(api_client(actor), {"service": "checkout", "events": [{"name": "search"}]})
    assert response.status_code == expected, response.content
    assert not UsageEvent.objects.exists()


def test_a_key_writes_its_own_service(key_client, service):
    response = post(key_client, {"events": [{"name": "search", "duration_ms": 5}, {"name": "export"}]})
    assert response.status_code == 201, response.json()
    assert response.json() == {"accepted": 2, "skipped": 0, "duplicate": False}
    assert set(UsageEvent.objects.values_list("service__slug", "name")) == {
        ("checkout", "search"),
        ("checkout", "export"),
    }


def test_a_key_of_service_a_cannot_write_events_of_service_b(api_client, service, other_service):
    response = post(api_client("other_key"), {"service": "checkout", "events": [{"name": "search"}]})
    assert response.status_code == 403
    assert "service" in response.json()["detail"]
    # Naming its own service is fine; the events are billing's, never checkout's.
    assert post(api_client("other_key"), {"service": "billing", "events": [{"name": "x"}]}).status_code == 201
    assert list(UsageEvent.objects.values_list("service__slug", flat=True)) == ["billing"]


def test_item_errors_name_the_event_and_field_and_nothing_is_written(key_client, service):
    response = post(key_client, {"events": [{"name": "ok"}, {"name": "x", "duration_ms": "slow"}, {"kind": "feature"}]})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "2 of 3 events are invalid; nothing was written."
    assert [e["field"] for e in body["errors"]] == ["events[1].duration_ms", "events[2].name"]
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nothing": []}, "events"),
        ([{"name": "x"}], "events"),
        ({"events": [], "service": ""}, "service"),
        ({"events": {"name": "x"}}, "events"),
    ],
)
def test_envelope_errors_name_the_field(key_client, service, body, field):
    response = post(key_client, body)
    assert response.status_code == 400
    assert field in json.dumps(response.json())


def test_a_batch_over_the_limit_is_refused(key_client, service, settings):
    settings.ANALYTICS_INGEST_MAX_BATCH = 3
    response = post(key_client, {"events": [{"name": "x"}] * 4})
    assert response.status_code == 400
    assert "at most 3" in response.json()["detail"]


def test_an_oversize_body_is_refused_before_it_is_parsed(key_client, service, settings):
    settings.ANALYTICS_INGEST_MAX_BODY_BYTES = 10_000
    # Not even JSON: a 413 (not a 400) shows the body was never parsed.
    response = post(key_client, b"{" + b"x" * 10_001)
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 10_000
    assert "ANALYTICS_INGEST_MAX_BODY_BYTES" in response.json()["detail"]
    assert post(key_client, {"events": [{"name": "x"}]}).status_code == 201


def test_a_retry_with_the_idempotency_key_writes_nothing(key_client, service):
    body = {"events": [{"name": "a"}, {"name": "b"}]}
    assert post(key_client, body, HTTP_IDEMPOTENCY_KEY="batch-1").status_code == 201
    again = post(key_client, body, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert again.status_code == 200
    assert again.json() == {"accepted": 2, "skipped": 0, "duplicate": True}
    assert UsageEvent.objects.count() == 2
    long_key = post(key_client, body, HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert long_key.status_code == 400 and "Idempotency-Key" in long_key.json()


def test_a_retry_of_events_with_ids_skips_them(key_client, service):
    body = {"events": [{"name": "a", "event_id": "1"}, {"name": "b", "event_id": "2"}]}
    assert post(key_client, body).json()["accepted"] == 2
    again = post(key_client, {"events": [*body["events"], {"name": "c", "event_id": "3"}]})
    assert again.status_code == 201
    assert again.json() == {"accepted": 1, "skipped": 2, "duplicate": False}
    assert UsageEvent.objects.count() == 3


def test_writes_are_rate_limited_per_key(key_client, service, monkeypatch):
    monkeypatch.setattr(ServiceKeyWriteThrottle, "THROTTLE_RATES", {"service_write": "2/min"})
    cache.clear()
    try:
        codes = [post(key_client, {"events": [{"name": "a"}]}).status_code for _ in range(3)]
    finally:
        cache.clear()
    assert codes == [201, 201, 429]


def test_the_schema_documents_the_ingest(api_client):
    schema = api_client("admin").get("/api/schema/?format=json").json()
    post_op = schema["paths"]["/api/v1/events/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in post_op["parameters"]]
    assert {"200", "201", "400", "413"} <= set(post_op["responses"])
    event = schema["components"]["schemas"]["EventRequest"]["properties"]
    assert event["name"]["maxLength"] == 200 and event["duration_ms"]["maximum"] > 0
