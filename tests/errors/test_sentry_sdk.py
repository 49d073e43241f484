"""The real sentry-sdk, configured with a DSN of the live test server, sends to the portal.

Each test initialises its own client with the default HTTP transport and closes it after, so no
SDK state leaks between tests. The SDK's own scrubber is switched off (and send_default_pii is
on) so the secrets really travel: the portal has to scrub them before storage.
"""

import json
import secrets
import sys

import pytest
import sentry_sdk
from django.core.cache import cache
from sentry_sdk.integrations.excepthook import ExcepthookIntegration
from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware
from sentry_sdk.scrubber import EventScrubber
from werkzeug.test import Client as WsgiClient

from monitoring.errors.inbox import inbox_drain
from monitoring.errors.models import ErrorEvent, ErrorGroup, ErrorInbox, ErrorProject
from monitoring.errors.sentry.dsn import dsn_for
from monitoring.models import MetricSample
from monitoring.requests import REQUEST_DURATION

# Made at run time: a literal would also travel in the frames' source lines, which are code, not data.
PASSWORD, COOKIE, BEARER, QUERY_TOKEN = (secrets.token_hex(8) for _ in range(4))


@pytest.fixture
def project(service):
    return ErrorProject.for_service(service)


@pytest.fixture
def sdk(live_server, project, settings):
    """sdk(**options) -> the initialised SDK client; sent events are kept in `sdk.sent`."""
    settings.PORTAL_BASE_URL = live_server.url
    cache.clear()
    sent: list[dict] = []

    def keep(event, hint):
        sent.append(json.loads(json.dumps(event, default=str)))
        return event

    def init(**options):
        sentry_sdk.init(
            dsn=dsn_for(project),
            # Nothing patched globally (the live server is Django: its integration would instrument
            # the portal itself); the excepthook is the one integration a test asks for.
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=options.pop("integrations", []),
            send_default_pii=True,
            event_scrubber=EventScrubber(denylist=[], send_default_pii=True),
            before_send=keep,
            release="shop@1.2.3",
            environment="test",
            **options,
        )
        return sentry_sdk.get_client()

    init.sent = sent
    yield init
    sentry_sdk.flush(timeout=10)
    sentry_sdk.get_client().close(timeout=5)
    sentry_sdk.get_global_scope().set_client(None)
    sentry_sdk.get_isolation_scope().clear()
    sentry_sdk.get_current_scope().clear()
    cache.clear()


def delivered() -> None:
    """Wait for the SDK's queue to reach the portal, then run the inbox drain the portal would
    have queued (no task worker runs in the tests): the events are grouped and stored."""
    sentry_sdk.flush(timeout=10)
    inbox_drain()


def stored_text(event: ErrorEvent) -> str:
    return json.dumps([event.message, event.tags, event.user, event.request, event.exception, event.data])


def assert_secrets_travelled_and_were_scrubbed(sent: list[dict], stored: ErrorEvent, secrets) -> None:
    text_sent = json.dumps(sent)
    for secret in secrets:
        assert secret in text_sent, f"the SDK did not send {secret}: the test proves nothing"
        text = stored_text(stored)
        assert secret not in text, (
            f"{secret} was stored: ...{text[max(0, text.find(secret) - 200) : text.find(secret) + 40]}"
        )


def place_order(card):
    password = PASSWORD  # noqa: F841 (a local the SDK sends with the frame)
    return 100 / card


def test_capture_exception_arrives_grouped_and_scrubbed(sdk, service):
    sdk()
    for _ in range(2):
        try:
            place_order(0)
        except ZeroDivisionError as exc:
            sentry_sdk.capture_exception(exc)
    delivered()
    events = list(ErrorEvent.objects.filter(service=service))
    assert len(events) == 2
    [group] = ErrorGroup.objects.filter(service=service)
    assert group.times_seen == 2
    assert "ZeroDivisionError" in group.title
    assert events[0].release == "shop@1.2.3" and events[0].environment == "test"
    frames = events[0].exception[-1]["stacktrace"]["frames"]
    assert frames[-1]["function"] == "place_order"
    assert_secrets_travelled_and_were_scrubbed(sdk.sent, events[0], [PASSWORD])


def test_capture_message_arrives_with_its_level(sdk, service):
    sdk()
    sentry_sdk.capture_message("Payment provider slow", level="warning")
    sentry_sdk.capture_message("Payment provider slow", level="warning")
    delivered()
    [group] = ErrorGroup.objects.filter(service=service)
    assert group.times_seen == 2
    assert group.level == "warning"
    assert "Payment provider slow" in group.title


def checkout_view(environ, start_response):
    password = PASSWORD  # noqa: F841
    raise KeyError("basket")


def orders_view(environ, start_response):
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"created"]


def test_an_unhandled_error_in_a_view_arrives_with_its_request_scrubbed(sdk, service):
    sdk()
    app = WsgiClient(SentryWsgiMiddleware(checkout_view))
    app.set_cookie("sessionid", COOKIE)
    with pytest.raises(KeyError):
        app.get(f"/checkout?token={QUERY_TOKEN}&page=2", headers={"Authorization": f"Bearer {BEARER}"})
    delivered()
    [event] = ErrorEvent.objects.filter(service=service)
    assert event.request["url"].endswith("/checkout")
    assert event.request["method"] == "GET"
    assert event.exception[-1]["type"] == "KeyError"
    assert event.exception[-1]["mechanism"]["handled"] is False
    assert_secrets_travelled_and_were_scrubbed(sdk.sent, event, [PASSWORD, COOKIE, BEARER])
    assert QUERY_TOKEN not in json.dumps(event.request)
    assert event.request["query_string"].endswith("&page=2")


def test_a_query_string_in_the_frame_variables_is_scrubbed_too(sdk, service):
    sdk()
    with pytest.raises(KeyError):
        WsgiClient(SentryWsgiMiddleware(checkout_view)).get(f"/checkout?token={QUERY_TOKEN}&page=2")
    delivered()
    [event] = ErrorEvent.objects.filter(service=service)
    assert_secrets_travelled_and_were_scrubbed(sdk.sent, event, [QUERY_TOKEN])


def test_the_excepthook_reports_an_uncaught_error(sdk, service):
    sdk(integrations=[ExcepthookIntegration(always_run=True)])
    try:
        place_order(0)
    except ZeroDivisionError:
        sys.excepthook(*sys.exc_info())
    delivered()
    [event] = ErrorEvent.objects.filter(service=service)
    assert event.exception[-1]["mechanism"]["type"] == "excepthook"


def test_a_transaction_becomes_a_request_duration_sample(sdk, service):
    sdk(traces_sample_rate=1.0)
    with sentry_sdk.start_transaction(name="/orders/{id}", op="http.server") as transaction:
        with sentry_sdk.start_span(op="db", name="SELECT 1"):
            pass
        transaction.set_http_status(503)
    WsgiClient(SentryWsgiMiddleware(orders_view)).post("/orders")
    delivered()
    samples = dict(
        MetricSample.objects.filter(service=service, name=REQUEST_DURATION).values_list("labels__route", "labels")
    )
    assert samples["/orders/{id}"] == {"route": "/orders/{id}", "method": "-", "status_class": "5xx"}
    [labels] = [labels for route, labels in samples.items() if route != "/orders/{id}"]  # the WSGI app's
    assert labels["method"] == "POST" and labels["status_class"] == "2xx"
    assert not ErrorEvent.objects.exists()  # a transaction is not an error


@pytest.mark.parametrize(
    "algo",
    ["gzip", "br", "none"],
)
def test_every_compression_the_sdk_uses_is_read(sdk, service, algo):
    options = {"transport_compression_level": 0} if algo == "none" else {"transport_compression_algo": algo}
    sdk(_experiments=options)
    sentry_sdk.capture_message(f"compressed with {algo}")
    delivered()
    assert ErrorEvent.objects.filter(service=service, message__contains=f"compressed with {algo}").count() == 1


def test_the_sdk_backs_off_when_rate_limited(sdk, service, settings):
    settings.ERRORS_INGEST_RATE_PER_MINUTE = 1
    client = sdk()
    sentry_sdk.capture_message("first")
    delivered()
    sentry_sdk.capture_message("second")  # answered 429: the SDK stops sending
    delivered()
    sentry_sdk.capture_message("third")  # dropped by the SDK itself, never sent
    delivered()
    assert list(ErrorEvent.objects.filter(service=service).values_list("message", flat=True)) == ["first"]
    assert client.transport._disabled_until  # the SDK read Retry-After / X-Sentry-Rate-Limits


def test_a_dsn_with_another_key_is_refused(sdk, project, service, other_service):
    other = ErrorProject.for_service(other_service)
    project_pk = project.pk
    sentry_sdk.init(
        dsn=dsn_for(other).replace(f"/{other.pk}", f"/{project_pk}"),
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    sentry_sdk.capture_message("not for this project")
    delivered()
    assert not ErrorEvent.objects.exists() and not ErrorInbox.objects.exists()
