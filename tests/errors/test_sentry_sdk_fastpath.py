"""The real sentry-sdk against the portal's WSGI application as gunicorn serves it
(portal.wsgi.application): envelopes take the fast path, skip the middleware, and still arrive
scrubbed and grouped, transactions included."""

import secrets
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import sentry_sdk
from django.core.cache import cache
from sentry_sdk.scrubber import EventScrubber

from monitoring.errors.inbox import inbox_drain
from monitoring.errors.models import ErrorEvent, ErrorGroup, ErrorProject
from monitoring.errors.sentry.dsn import dsn_for
from monitoring.models import MetricSample
from monitoring.requests import REQUEST_DURATION
from portal.wsgi import application

SECRET = secrets.token_hex(8)  # made at run time: a literal would travel in the frames' source lines


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def portal_server(transactional_db, settings):
    """The portal's WSGI application on a real socket, in a thread (the test database is shared)."""
    server = make_server("127.0.0.1", 0, application, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.PORTAL_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    cache.clear()
    yield server
    sentry_sdk.flush(timeout=10)
    sentry_sdk.get_client().close(timeout=5)
    sentry_sdk.get_global_scope().set_client(None)
    sentry_sdk.get_isolation_scope().clear()
    sentry_sdk.get_current_scope().clear()
    server.shutdown()
    server.server_close()
    cache.clear()


def pay(card):
    api_token = SECRET  # noqa: F841 (a local the SDK sends with the frame)
    return 100 / card


def test_the_sdk_through_the_fast_path(portal_server, service, monkeypatch):
    handed_to_django = []
    original = application.app
    monkeypatch.setattr(
        application, "app", lambda env, sr: handed_to_django.append(env["PATH_INFO"]) or original(env, sr)
    )
    project = ErrorProject.for_service(service)
    sent = []
    sentry_sdk.init(
        dsn=dsn_for(project),
        default_integrations=False,
        auto_enabling_integrations=False,
        send_default_pii=True,
        event_scrubber=EventScrubber(denylist=[], send_default_pii=True),
        before_send=lambda event, hint: sent.append(event) or event,
        traces_sample_rate=1.0,
        release="shop@3",
    )
    for _ in range(2):
        try:
            pay(0)
        except ZeroDivisionError as exc:
            sentry_sdk.capture_exception(exc)
    with sentry_sdk.start_transaction(name="/pay/<int:id>/", op="http.server"):
        pass
    sentry_sdk.flush(timeout=10)
    assert SECRET in str(sent), "the SDK did not send the secret: the test proves nothing"
    assert handed_to_django == []  # every envelope was answered by the fast path
    inbox_drain()
    [group] = ErrorGroup.objects.filter(service=service)
    assert group.times_seen == 2 and "ZeroDivisionError" in group.title
    event = ErrorEvent.objects.filter(service=service).first()
    assert event.release == "shop@3"
    assert SECRET not in str([event.exception, event.request, event.data, event.tags])
    assert MetricSample.objects.filter(service=service, name=REQUEST_DURATION, labels__route="/pay/<int:id>/").exists()
