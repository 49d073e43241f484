"""The envelope and store endpoints through Django's test client: auth, limits, refusals, CORS,
transactions into the request-duration series, and nothing half-written."""

import gzip
import json
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import Client

from monitoring.errors.inbox import inbox_drain
from monitoring.errors.models import ErrorEvent, ErrorInbox, ErrorProject
from monitoring.errors.sentry import views
from monitoring.errors.sentry.dsn import dsn_for
from monitoring.models import MetricSample
from monitoring.requests import REQUEST_DURATION


@pytest.fixture
def project(service):
    return ErrorProject.for_service(service)


@pytest.fixture
def other_project(other_service):
    return ErrorProject.for_service(other_service)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def auth(key: str) -> dict:
    return {"HTTP_X_SENTRY_AUTH": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=test/1.0"}


def envelope(*items: tuple[dict, dict | bytes], headers: dict | None = None) -> bytes:
    lines = [json.dumps(headers or {}).encode()]
    for item_headers, payload in items:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        lines += [json.dumps({**item_headers, "length": len(body)}).encode(), body]
    return b"\n".join(lines) + b"\n"


def transaction_event(name="/orders/{id}", *, seconds=0.25, status_code=200, method="GET", end=None) -> dict:
    end = end or datetime.now(UTC)
    return {
        "type": "transaction",
        "event_id": uuid.uuid4().hex,
        "transaction": name,
        "start_timestamp": (end - timedelta(seconds=seconds)).isoformat(),
        "timestamp": end.timestamp(),
        "request": {"method": method, "url": "https://shop.example/orders/7"},
        "contexts": {"trace": {"status": "ok", "op": "http.server"}, "response": {"status_code": status_code}},
        "spans": [{"op": "db", "description": "SELECT 1"}],
    }


def post(project_id: int, body: bytes, *, path="envelope", client=None, **extra):
    client = client or Client()
    return client.post(f"/api/{project_id}/{path}/", body, content_type="application/x-sentry-envelope", **extra)


def durations(service):
    return list(MetricSample.objects.filter(service=service, name=REQUEST_DURATION).values_list("labels", "value"))


def test_a_transaction_becomes_a_request_duration_sample(project, service):
    body = envelope(({"type": "transaction"}, transaction_event(seconds=0.25, status_code=404, method="post")))
    response = post(project.pk, body, **auth(project.public_key))
    assert response.status_code == 200, response.content
    [(labels, value)] = durations(service)
    assert labels == {"route": "/orders/{id}", "method": "POST", "status_class": "4xx"}
    assert value == pytest.approx(0.25, abs=1e-3)
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("contexts", "tags", "expected"),
    [
        ({"trace": {"status": "internal_error"}}, {}, "5xx"),
        ({"trace": {"status": "not_found"}}, {}, "4xx"),
        ({"trace": {"status": "ok"}}, {}, "2xx"),
        ({"trace": {"status": "ok", "data": {"http.response.status_code": 503}}}, {}, "5xx"),
        ({}, [["http.status_code", "302"]], "3xx"),
    ],
)
def test_status_class_comes_from_the_http_status_or_the_trace_status(project, service, contexts, tags, expected):
    event = {**transaction_event(), "contexts": contexts, "tags": tags}
    del event["request"]
    assert post(project.pk, envelope(({"type": "transaction"}, event)), **auth(project.public_key)).status_code == 200
    [(labels, _)] = durations(service)
    assert labels["status_class"] == expected
    assert labels["method"] == "-"  # no request data: the method is unknown


def test_transactions_the_store_cannot_hold_are_dropped_not_refused(project, service):
    old = transaction_event(end=datetime.now(UTC) - timedelta(days=400))
    backwards = {**transaction_event(), "start_timestamp": time.time() + 60}
    body = envelope(({"type": "transaction"}, old), ({"type": "transaction"}, backwards))
    assert post(project.pk, body, **auth(project.public_key)).status_code == 200
    assert durations(service) == []


def test_ignored_item_types_are_accepted(project, service):
    body = envelope(
        ({"type": "session"}, {"sid": "a", "status": "ok"}),
        ({"type": "sessions"}, {"aggregates": []}),
        ({"type": "client_report"}, {"discarded_events": []}),
        ({"type": "attachment", "filename": "a.bin"}, b"\x00\x01\n\x02"),
        ({"type": "profile"}, {}),
        ({"type": "check_in"}, {"status": "ok"}),
        ({"type": "something_new"}, {}),
        headers={"sent_at": "2026-01-01T00:00:00Z"},
    )
    response = post(project.pk, body, **auth(project.public_key))
    assert response.status_code == 200
    assert response.json() == {}
    assert durations(service) == [] and not ErrorInbox.objects.exists()


@pytest.mark.parametrize("where", ["header", "query", "dsn"])
def test_the_key_is_read_from_the_header_the_query_or_the_envelope(project, service, where, settings):
    settings.PORTAL_BASE_URL = "https://portal.example"
    headers = {"dsn": dsn_for(project)} if where == "dsn" else {}
    body = envelope(({"type": "transaction"}, transaction_event()), headers=headers)
    path = f"envelope/?sentry_key={project.public_key}&sentry_version=7" if where == "query" else "envelope/"
    extra = auth(project.public_key) if where == "header" else {}
    response = Client().post(f"/api/{project.pk}/{path}", body, content_type="text/plain;charset=UTF-8", **extra)
    assert response.status_code == 200, response.content
    assert len(durations(service)) == 1


def test_keys_are_refused_with_401_or_403(project, other_project, service):
    body = envelope(({"type": "transaction"}, transaction_event()))
    missing = post(project.pk, body)
    assert missing.status_code == 401
    assert "no sentry_key" in missing.json()["detail"]
    # Without credentials the body is not judged: 401, not a 400 about its contents.
    assert post(project.pk, b"garbage").status_code == 401
    assert post(project.pk, body, **auth("0" * 32)).status_code == 401
    assert post(project.pk, body, **auth("x" * 500)).status_code == 401
    # Another project's key is a real key, for the wrong project: it cannot post here.
    other = post(project.pk, body, **auth(other_project.public_key))
    assert other.status_code == 403
    assert other["X-Sentry-Error"] == f"this sentry_key does not belong to project {project.pk}"
    assert post(999_999, body, **auth(project.public_key)).status_code == 403
    # A DSN in the envelope of another project does not help either.
    with_dsn = envelope(({"type": "transaction"}, transaction_event()), headers={"dsn": dsn_for(other_project)})
    assert post(project.pk, with_dsn).status_code == 403
    assert durations(service) == []


def test_a_regenerated_key_replaces_the_old_one(project):
    old = project.public_key
    project.regenerate_key()
    body = envelope(({"type": "session"}, {}))
    assert post(project.pk, body, **auth(old)).status_code == 401
    assert post(project.pk, body, **auth(project.public_key)).status_code == 200


def test_a_service_api_key_or_a_login_is_not_a_sentry_key(project, service_key, users):
    body = envelope(({"type": "session"}, {}))
    assert post(project.pk, body, HTTP_AUTHORIZATION=f"Bearer {service_key.raw}").status_code == 401
    client = Client()
    client.force_login(users["admin"])
    assert post(project.pk, body, client=client).status_code == 401


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the envelope header is empty"),
        (b"{not json\n", "the envelope header is not valid JSON"),
        (b'{}\n{"type":"event","length":500}\n{}\n', "item 0 (event): length is 500 but only 3 bytes follow"),
        (b'{}\n{"type":"event"}\n{"event_id":"nope"}\n', "item 0 (event): event_id 'nope' is not a UUID"),
    ],
)
def test_malformed_envelopes_get_400_with_the_reason(project, body, reason):
    response = post(project.pk, body, **auth(project.public_key))
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert reason in response["X-Sentry-Error"]


def test_compressed_bodies_are_read(project, service):
    body = envelope(({"type": "transaction"}, transaction_event()))
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for encoded, encoding in [
        (gzip.compress(body), "gzip"),
        (zlib.compress(body), "deflate"),
        (raw.compress(body) + raw.flush(), "deflate"),
    ]:
        response = post(project.pk, encoded, HTTP_CONTENT_ENCODING=encoding, **auth(project.public_key))
        assert response.status_code == 200, (encoding, response.content)
    assert len(durations(service)) == 3
    unknown = post(project.pk, body, HTTP_CONTENT_ENCODING="zstd", **auth(project.public_key))
    assert unknown.status_code == 415
    broken = post(project.pk, b"not gzip", HTTP_CONTENT_ENCODING="gzip", **auth(project.public_key))
    assert broken.status_code == 400
    assert "not valid gzip data" in broken.json()["detail"]


def test_limits_answer_413(project, settings):
    settings.ERRORS_INGEST_MAX_BODY_BYTES = 20_000
    settings.ERRORS_INGEST_MAX_ENVELOPE_BYTES = 50_000
    settings.ERRORS_INGEST_MAX_EVENT_BYTES = 5_000
    settings.ERRORS_INGEST_MAX_ITEMS = 3
    key = auth(project.public_key)
    too_big = post(project.pk, envelope(({"type": "attachment"}, b"a" * 30_000)), **key)
    assert too_big.status_code == 413
    assert too_big.json()["detail"] == "the request body exceeds 20000 bytes"
    bomb = post(project.pk, gzip.compress(b"{}\n" + b" " * 10_000_000), HTTP_CONTENT_ENCODING="gzip", **key)
    assert bomb.status_code == 413
    assert bomb.json()["detail"] == "the decompressed body exceeds 50000 bytes"
    event = post(project.pk, envelope(({"type": "event"}, {"message": "x" * 6_000})), **key)
    assert event.status_code == 413
    assert "exceeds 5000 bytes" in event.json()["detail"]
    items = post(project.pk, envelope(*[({"type": "session"}, {})] * 4), **key)
    assert items.status_code == 413
    assert "at most 3 items" in items.json()["detail"]


def test_over_the_rate_limit_the_sdk_is_told_when_to_come_back(project, service, settings):
    settings.ERRORS_INGEST_RATE_PER_MINUTE = 2
    body = envelope(({"type": "transaction"}, transaction_event()), ({"type": "transaction"}, transaction_event()))
    assert post(project.pk, body, **auth(project.public_key)).status_code == 200
    limited = post(project.pk, body, **auth(project.public_key))
    assert limited.status_code == 429
    seconds = int(limited["Retry-After"])
    assert 1 <= seconds <= 60
    assert limited["X-Sentry-Rate-Limits"] == f"{seconds}::project:project_quota"
    assert "over 2 events per minute" in limited.json()["detail"]
    assert len(durations(service)) == 2
    # Sessions and reports do not count; other projects have their own allowance.
    assert post(project.pk, envelope(({"type": "session"}, {})), **auth(project.public_key)).status_code == 429


def test_nothing_is_half_written_when_a_later_item_is_bad(project, service):
    body = envelope(
        ({"type": "transaction"}, transaction_event()),
        ({"type": "event"}, {"message": "fine", "event_id": uuid.uuid4().hex}),
        ({"type": "event"}, {"message": "bad id", "event_id": "not-a-uuid"}),
    )
    assert post(project.pk, body, **auth(project.public_key)).status_code == 400
    assert durations(service) == [] and not ErrorInbox.objects.exists()


def test_an_event_the_store_refuses_takes_the_whole_envelope_back(project, service):
    body = envelope(
        ({"type": "transaction"}, transaction_event()),
        ({"type": "event"}, {"message": "fine", "event_id": uuid.uuid4().hex}),
        ({"type": "event"}, {"level": "error", "event_id": uuid.uuid4().hex}),  # neither exception nor message
    )
    response = post(project.pk, body, **auth(project.public_key))
    assert response.status_code == 400
    assert "needs an exception or a message" in response.json()["detail"]
    assert durations(service) == [] and not ErrorInbox.objects.exists()


def test_an_event_arrives_and_answers_its_id(project, service):
    event_id = uuid.uuid4().hex
    body = envelope(({"type": "event"}, {"message": "Payment failed"}), headers={"event_id": event_id})
    response = post(project.pk, body, **auth(project.public_key))
    assert response.json() == {"id": event_id}
    # Accepted into the inbox; grouped and stored by the drain (queued after the commit).
    assert ErrorInbox.objects.get(service=service).event_id == event_id
    assert inbox_drain().stored == 1
    assert ErrorEvent.objects.get(service=service).event_id == event_id
    # The SDK may send it again (a retry): stored once.
    assert post(project.pk, body, **auth(project.public_key)).status_code == 200
    assert inbox_drain().duplicate == 1
    assert ErrorEvent.objects.filter(service=service).count() == 1 and not ErrorInbox.objects.exists()


def test_nothing_is_half_written_when_the_samples_write_fails(project, service, monkeypatch):
    def failing_write(rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(views, "samples_write", failing_write)
    body = envelope(
        ({"type": "event"}, {"message": "stored first", "event_id": uuid.uuid4().hex}),
        ({"type": "transaction"}, transaction_event()),
    )
    client = Client(raise_request_exception=False)
    assert post(project.pk, body, client=client, **auth(project.public_key)).status_code == 500
    # (The portal records its own 500 under its own service.)
    assert not ErrorInbox.objects.filter(service=service).exists()


def test_browsers_get_their_cors_preflight_answered(project):
    response = Client().options(f"/api/{project.pk}/envelope/", HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "x-sentry-auth" in response["Access-Control-Allow-Headers"].lower()
    assert "content-encoding" in response["Access-Control-Allow-Headers"].lower()


def test_other_methods_get_405(project):
    response = Client().get(f"/api/{project.pk}/envelope/")
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"


def test_the_store_endpoint_takes_a_transaction_too(project, service):
    event = transaction_event()
    response = post(project.pk, json.dumps(event).encode(), path="store", **auth(project.public_key))
    assert response.status_code == 200
    assert response.json() == {"id": event["event_id"]}
    assert len(durations(service)) == 1
    bad = post(project.pk, b"[1, 2]", path="store", **auth(project.public_key))
    assert bad.status_code == 400


def test_the_dsn_follows_the_portal_base_url(project, settings):
    settings.PORTAL_BASE_URL = "https://ops.example.com/portal"
    assert dsn_for(project) == f"https://{project.public_key}@ops.example.com/portal/{project.pk}"


def test_queries_do_not_grow_with_the_items(project, service, django_assert_max_num_queries):
    def body(count: int) -> bytes:
        transactions = [({"type": "transaction"}, transaction_event(f"/r{i}/")) for i in range(count)]
        return envelope(({"type": "event"}, {"message": f"m{count}"}), *transactions)

    post(project.pk, body(1), **auth(project.public_key))  # the metric's kind is registered once
    with django_assert_max_num_queries(25) as few:
        assert post(project.pk, body(2), **auth(project.public_key)).status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert post(project.pk, body(50), **auth(project.public_key)).status_code == 200
    assert len(durations(service)) == 53


def test_an_event_envelope_costs_the_key_lookup_and_one_insert(project, service, django_assert_max_num_queries):
    events = [{"event_id": uuid.uuid4().hex, "message": f"order {n} failed", "level": "warning"} for n in range(3)]
    for event in events[:2]:
        body = gzip.compress(envelope(({"type": "event"}, event)))
        # The key's SELECT and the INSERT, in a savepoint here (the test's transaction is open).
        with django_assert_max_num_queries(4) as queries:
            response = post(project.pk, body, HTTP_CONTENT_ENCODING="gzip", **auth(project.public_key))
        assert response.status_code == 200, response.content
        assert response.json() == {"id": event["event_id"]}
    assert sum(sql["sql"].lstrip().upper().startswith("INSERT") for sql in queries.captured_queries) == 1
    rows = list(ErrorInbox.objects.order_by("id"))
    assert [(row.service_id, row.event_id, row.claim, row.attempts) for row in rows] == [
        (service.pk, event["event_id"], "", 0) for event in events[:2]
    ]
    assert rows[0].message == "order 0 failed" and rows[0].fingerprint
    # The key is read on every request, not cached: a regenerated one is refused at once.
    old_key = project.public_key
    project.regenerate_key()
    body = envelope(({"type": "event"}, events[2]))
    assert post(project.pk, body, **auth(old_key)).status_code == 401
    assert post(project.pk, body, **auth(project.public_key)).status_code == 200
    inbox_drain()
    assert ErrorEvent.objects.filter(group__service=service).count() == 3


def test_lone_surrogates_in_an_event_are_stored_as_the_replacement_character(project, service):
    # JSON may escape half of a UTF-16 pair alone; Python decodes it into text no database driver
    # can write (it was a 500 at the INSERT). It becomes U+FFFD; a whole pair stays as it is.
    event = {
        "event_id": uuid.uuid4().hex,
        "level": "error",
        "release": "shop@\ud8001",
        "tags": {"k\udc00": "v\ud800"},
        "exception": {"values": [{"type": "Key\ud800Error", "value": "bad \udfff \U0001f600", "stacktrace": {
            "frames": [{"module": "shop.vi\ud800ews", "function": "f\ud800", "in_app": True}]
        }}]},
    }  # fmt: skip
    body = envelope(({"type": "event"}, json.dumps(event).encode()))  # ensure_ascii: every one escaped
    assert b"\\ud800" in body
    response = post(project.pk, body, **auth(project.public_key))
    assert response.status_code == 200, response.content
    inbox_drain()
    stored = ErrorEvent.objects.get(service=service)
    assert stored.release == "shop@\ufffd1" and stored.tags == {"k\ufffd": "v\ufffd"}
    assert stored.group.title.startswith("Key\ufffdError: bad \ufffd \U0001f600")
