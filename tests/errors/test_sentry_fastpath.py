"""The WSGI fast path of the SDK ingest (portal.wsgi.application): the same answers as the Django
view without the middleware stack, and everything it cannot stand in for handed to Django."""

import gzip
import io
import json
import sys
import uuid

import pytest
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections

from monitoring.errors.inbox import inbox_drain
from monitoring.errors.models import ErrorEvent, ErrorInbox, ErrorProject
from monitoring.errors.sentry import fastpath, views
from monitoring.metrics import REGISTRY
from monitoring.requests import REQUEST_DURATION, REQUEST_EXCEPTIONS
from portal.lib.masking import SUBSTITUTE
from portal.wsgi import application
from tests.errors.builders import event, exception, frame

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(service):
    return ErrorProject.for_service(service)


@pytest.fixture
def other_project(other_service):
    return ErrorProject.for_service(other_service)


@pytest.fixture(autouse=True)
def keep_the_tests_connection():
    """What Django's test client does around each request: the request signals must not close the
    test's database connection (on PostgreSQL it holds the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def fresh():
    cache.clear()
    REGISTRY.take()
    yield
    cache.clear()


def envelope_of(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    header = json.dumps({"event_id": payload.get("event_id")}).encode()
    return b"\n".join([header, json.dumps({"type": "event", "length": len(body)}).encode(), body]) + b"\n"


def call(path: str, body: bytes = b"", *, method="POST", key: str | None = None, host="testserver", **environ):
    """One request through the WSGI application as a server would pass it: (status, headers, body)."""
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "CONTENT_TYPE": "application/x-sentry-envelope",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        **environ,
    }
    if key is not None:
        env["HTTP_X_SENTRY_AUTH"] = f"Sentry sentry_key={key}, sentry_version=7, sentry_client=test/1.0"
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    chunks = application(env, start_response)
    content = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return answer["status"], answer["headers"], content


def leaky_event() -> dict:
    return event(
        exception(
            "ValueError", "db https://admin:hunter2@db.internal/x", [frame("shop.views", "pay", vars={"token": "t-1"})]
        ),
        event_id=uuid.uuid4().hex,
        request={"url": "https://shop.test/pay?token=t-2", "headers": {"Authorization": "Bearer b-3"}},
    )


def test_an_envelope_is_accepted_scrubbed_and_grouped_without_the_middleware(project, service, monkeypatch):
    payload = leaky_event()
    app_calls = []
    original = application.app
    monkeypatch.setattr(application, "app", lambda env, sr: app_calls.append(env) or original(env, sr))
    status, headers, content = call(f"/api/{project.pk}/envelope/", gzip.compress(envelope_of(payload)),
                                    key=project.public_key, HTTP_CONTENT_ENCODING="gzip")  # fmt: skip
    assert status == 200, content
    assert json.loads(content) == {"id": payload["event_id"]}
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert app_calls == []  # Django's handler (and its middleware) never saw it
    inbox_text = json.dumps(list(ErrorInbox.objects.values()), default=str)
    for secret in ("hunter2", "t-1", "t-2", "Bearer b-3"):
        assert secret not in inbox_text
    inbox_drain()
    stored = ErrorEvent.objects.get(service=service)
    assert stored.event_id == payload["event_id"]
    assert stored.request["headers"]["Authorization"] == SUBSTITUTE


def test_the_request_is_recorded_like_the_middleware_records_it(project):
    status, _, _ = call(f"/api/{project.pk}/envelope/", envelope_of(leaky_event()), key=project.public_key)
    assert status == 200
    _, _, observations, _ = REGISTRY.take()
    labels = [json.loads(labels) for (name, labels, _, _), _, _ in observations if name == REQUEST_DURATION]
    assert labels == [{"method": "POST", "route": "/api/<int:project_id>/envelope/", "status_class": "2xx"}]


@pytest.mark.parametrize("key, status", [(None, 401), ("0" * 32, 401), ("other", 403)])
def test_keys_are_checked_as_in_the_view(project, other_project, key, status):
    key = other_project.public_key if key == "other" else key
    got, headers, content = call(f"/api/{project.pk}/envelope/", envelope_of(leaky_event()), key=key)
    assert got == status
    assert json.loads(content)["detail"] == headers["X-Sentry-Error"]
    assert not ErrorInbox.objects.exists()


def test_refusals_name_the_reason(project):
    status, _, content = call(f"/api/{project.pk}/envelope/", b'{}\n{"type":"event","length":500}\n{}',
                                    key=project.public_key)  # fmt: skip
    assert status == 400
    assert "length is 500" in json.loads(content)["detail"]
    status, _, _ = call(f"/api/{project.pk}/store/", b"x" * 10, key=project.public_key, CONTENT_LENGTH="999999999")
    assert status == 413


def test_what_it_cannot_stand_in_for_goes_to_django(project, settings, monkeypatch):
    handed = []
    original = application.app
    monkeypatch.setattr(application, "app", lambda env, sr: handed.append(env["REQUEST_METHOD"]) or original(env, sr))
    # A preflight and other methods: the view's answers.
    status, headers, _ = call(f"/api/{project.pk}/envelope/", method="OPTIONS")
    assert status == 200 and "X-Sentry-Auth" in headers["Access-Control-Allow-Headers"]
    status, headers, _ = call(f"/api/{project.pk}/envelope/", method="GET")
    assert status == 405
    # A host Django refuses is refused the same way (400), not accepted here.
    status, _, _ = call(f"/api/{project.pk}/envelope/", envelope_of(leaky_event()), key=project.public_key,
                        host="evil.example")  # fmt: skip
    assert status == 400
    assert handed == ["OPTIONS", "GET", "POST"]
    # Plain HTTP under SECURE_SSL_REDIRECT is Django's to redirect; over HTTPS it is ours again.
    settings.SECURE_SSL_REDIRECT = True
    call(f"/api/{project.pk}/envelope/", envelope_of(leaky_event()), key=project.public_key)
    assert handed == ["OPTIONS", "GET", "POST", "POST"]
    status, _, _ = call(f"/api/{project.pk}/envelope/", envelope_of(leaky_event()), key=project.public_key,
                        **{"wsgi.url_scheme": "https"})  # fmt: skip
    assert status == 200 and len(handed) == 4


def test_an_unexpected_failure_is_a_500_recorded_and_captured(project, monkeypatch, settings):
    settings.ERRORS_CAPTURE_ENABLED = True
    captured = []
    monkeypatch.setattr(fastpath, "capture_exception", lambda exc, **kw: captured.append(exc))
    monkeypatch.setattr(views, "parse_envelope", lambda *a, **k: 1 / 0)
    status, _, content = call(f"/api/{project.pk}/envelope/", envelope_of(leaky_event()), key=project.public_key)
    assert status == 500 and json.loads(content) == {"detail": "internal error"}
    assert [type(exc) for exc in captured] == [ZeroDivisionError]
    counts, _, _, _ = REGISTRY.take()
    assert [amount for (name, _, _, _), amount in counts.items() if name == REQUEST_EXCEPTIONS] == [1]
