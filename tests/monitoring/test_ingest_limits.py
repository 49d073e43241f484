"""Body limits of the ingest endpoints: the documented size is accepted, a larger body gets 413
(never 400, which means "invalid, do not retry"), and a heartbeat ping is never lost to its size."""

import io
import json

from monitoring.heartbeats import PING_BODY_CHARS
from monitoring.models import CheckKind, HeartbeatPing, MetricSample
from tests.monitoring.factories import HealthCheckFactory

URL = "/api/v1/metrics/"


def batch(samples: int, label_chars: int = 30) -> dict:
    labels = {f"label{i}": "x" * label_chars for i in range(16)}
    return {"samples": [{"name": "orders_total", "value": i, "labels": labels} for i in range(samples)]}


def streamed(client, path, raw: bytes, content_type="application/json"):
    """A body without Content-Length, as a chunked request reaches Django through gunicorn."""
    return client.generic(
        "POST",
        path,
        b"x",  # any data, so the client sets a content type; the body below replaces it
        content_type=content_type,
        CONTENT_LENGTH="",
        **{"wsgi.input": io.BytesIO(raw), "wsgi.input_terminated": True},
    )


def test_a_valid_34_mb_batch_is_accepted_and_stored(key_client, service, settings):
    raw = json.dumps(batch(5000, label_chars=30)).encode()
    assert 3_300_000 < len(raw) < settings.METRICS_INGEST_MAX_BODY_BYTES  # above Django's 2.5 MB
    response = key_client.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 201, response.content[:500]
    assert response.json() == {"accepted": 5000, "duplicate": False}
    assert MetricSample.objects.filter(service=service).count() == 5000


def test_a_body_over_the_limit_gets_413_naming_the_limit_unparsed(key_client, settings):
    settings.METRICS_INGEST_MAX_BODY_BYTES = 10_000
    response = key_client.post(URL, data=json.dumps(batch(20)), content_type="application/json")
    assert response.status_code == 413
    body = response.json()
    assert body["limit_bytes"] == 10_000
    assert "10000 bytes" in body["detail"] and "METRICS_INGEST_MAX_BODY_BYTES" in body["detail"]
    assert not MetricSample.objects.exists()
    # not even parsed: a malformed body over the limit is still "too large", not "invalid"
    assert key_client.post(URL, data="{" * 10_001, content_type="application/json").status_code == 413


def test_a_streamed_body_without_content_length_is_counted_while_read(key_client, service, settings):
    settings.METRICS_INGEST_MAX_BODY_BYTES = 10_000
    assert streamed(key_client, URL, json.dumps(batch(20)).encode()).status_code == 413
    response = streamed(key_client, URL, json.dumps(batch(2)).encode())
    assert response.status_code == 201, response.content
    assert MetricSample.objects.filter(service=service).count() == 2


def test_a_body_of_another_type_is_415(key_client):
    response = key_client.post(URL, data=json.dumps(batch(1)), content_type="text/plain")
    assert response.status_code == 415


def test_a_large_ping_body_is_recorded_truncated(client, db):
    check = HealthCheckFactory(kind=CheckKind.HEARTBEAT, period_seconds=3600, grace_seconds=60)
    log = "é" + "line of job output\n" * 200_000  # ~3.8 MB
    response = client.post(f"/ping/{check.uuid}/fail", data=log, content_type="text/plain")
    assert response.status_code == 200
    ping = HeartbeatPing.objects.get(health_check=check)
    assert ping.kind == "fail" and ping.body == log[:PING_BODY_CHARS]


def test_a_streamed_ping_body_is_recorded(client, db):
    check = HealthCheckFactory(kind=CheckKind.HEARTBEAT, period_seconds=3600, grace_seconds=60)
    response = streamed(client, f"/ping/{check.uuid}", b"backup done\n" * 1000, content_type="text/plain")
    assert response.status_code == 200
    assert HeartbeatPing.objects.get(health_check=check).body == ("backup done\n" * 1000)[:PING_BODY_CHARS]
