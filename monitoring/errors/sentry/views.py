"""The endpoints the Sentry SDKs post to: /api/<project_id>/envelope/ and the older /store/.

No session, no CSRF (SDKs carry no cookies; the public key decides), each request read against
its own limits. Answers are what the SDKs understand: 200 {"id": event_id}; 400/413/415 with the
reason in the body and in X-Sentry-Error; 429 with Retry-After and X-Sentry-Rate-Limits.
Browser SDKs post cross-origin, so every answer carries Access-Control-Allow-Origin: * (the key
is public and nothing is read back but the event id, as with Sentry).
"""

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from monitoring.errors.inbox import inbox_add, inbox_wake
from monitoring.errors.sentry.auth import AuthFailed, key_from_dsn, project_authenticate, sdk_auth
from monitoring.errors.sentry.envelope import (
    Envelope,
    EnvelopeError,
    Limits,
    decompress,
    envelope_dsn,
    event_id_of,
    parse_envelope,
    parse_store,
)
from monitoring.errors.sentry.ratelimit import (
    rate_limits_header,
    ratelimit_count,
    ratelimit_exceeded,
)
from monitoring.errors.sentry.transactions import transaction_rows
from monitoring.errors.store import events_prepare
from monitoring.ingest import metric_kinds, samples_write
from monitoring.metrics import counter
from monitoring.models import MetricKind
from monitoring.requests import REQUEST_DURATION
from portal.lib.bodies import BodyTooLarge, body_read
from portal.middleware import own_body_limit

logger = logging.getLogger(__name__)

# What arrived, per item type and outcome (accepted / ignored / dropped): the portal's own metrics.
ITEMS = counter(
    "errors_ingest_items_total", "Sentry envelope items received, by type and outcome", labelnames=("type", "outcome")
)
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, X-Sentry-Auth, Authorization, "
    "X-Requested-With, sentry-trace, baggage",
    "Access-Control-Max-Age": "3600",
}


@dataclass(frozen=True)
class SdkRequest:
    """What the ingest reads of a request: the same from Django's view and from the WSGI fast path
    (fastpath.py), which skips the middleware stack."""

    auth_header: str
    query: Mapping  # the query string's parameters (.get)
    content_encoding: str
    read_body: Callable[[int], bytes]  # up to a limit of bytes, else BodyTooLarge


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    headers: dict


class Refused(Exception):
    def __init__(self, status: int, reason: str, headers: dict | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def _limits() -> Limits:
    return Limits(
        envelope_bytes=settings.ERRORS_INGEST_MAX_ENVELOPE_BYTES,
        event_bytes=settings.ERRORS_INGEST_MAX_EVENT_BYTES,
        items=settings.ERRORS_INGEST_MAX_ITEMS,
    )


def _answer(status: int, body: dict, headers: dict | None = None) -> Answer:
    return Answer(status, body, {**CORS_HEADERS, **(headers or {})})


def _refusal(exc: Refused) -> Answer:
    # X-Sentry-Error is where the SDKs (and Sentry's own answers) put the reason.
    return _answer(exc.status, {"detail": exc.reason}, {"X-Sentry-Error": exc.reason[:200], **exc.headers})


def _body(request: SdkRequest) -> bytes:
    try:
        raw = request.read_body(settings.ERRORS_INGEST_MAX_BODY_BYTES)
        return decompress(raw, request.content_encoding, limit=settings.ERRORS_INGEST_MAX_ENVELOPE_BYTES)
    except BodyTooLarge as exc:
        raise Refused(413, f"the request body exceeds {exc.limit} bytes") from None
    except EnvelopeError as exc:
        raise Refused(exc.status, exc.reason) from None


def _authenticate(project_id: int, key: str):
    try:
        project = project_authenticate(project_id=project_id, key=key)
    except AuthFailed as exc:
        raise Refused(exc.status, exc.reason) from None
    seconds = ratelimit_exceeded(project_id=project.pk, now=time.time())
    if seconds is not None:
        reason = f"project {project.pk} is over {settings.ERRORS_INGEST_RATE_PER_MINUTE} events per minute"
        raise Refused(429, reason, {"Retry-After": str(seconds), "X-Sentry-Rate-Limits": rate_limits_header(seconds)})
    return project


def _events(envelope: Envelope) -> tuple[list[dict], list[dict]]:
    """(error events, transactions) of an envelope, each event with its id settled."""
    fallback = envelope.headers.get("event_id") if type(envelope.headers.get("event_id")) is str else ""
    events, transactions = [], []
    for index, item in enumerate(envelope.items):
        if item.type == "event":
            try:
                # The header's event_id names the envelope's (first) event.
                item.data["event_id"] = event_id_of(item.data, "" if events else fallback)
            except EnvelopeError as exc:
                raise Refused(400, f"item {index} (event): {exc.reason}") from None
            events.append(item.data)
        elif item.type == "transaction":
            transactions.append(item.data)
    return events, transactions


def _store(project, events: list[dict], transactions: list[dict]) -> None:
    """Events into the inbox and transaction samples, in one transaction: a failure leaves neither
    written. Events are prepared (checked, scrubbed, fingerprinted) here, so a bad one refuses the
    envelope with the reason; grouping them is the inbox drain's work, off the request (inbox.py)."""
    now = timezone.now()
    prepared, ready = events_prepare(events, now=now) if events else (None, [])
    if prepared is not None and prepared.refused:
        refused = prepared.refused[0]
        raise Refused(400, f"event {refused.event_id}: {refused.reason}")
    # Events alone are one INSERT, all or nothing by itself: no transaction of our own around it
    # (BEGIN and Django's atomic() bookkeeping were ~4 % of an envelope's CPU).
    with transaction.atomic() if transactions else nullcontext():
        if ready:
            inbox_add(service_id=project.service_id, items=[item for _, item in ready], now=now)
            ITEMS.inc(len(ready), type="event", outcome="accepted")
            transaction.on_commit(inbox_wake)
        if transactions:
            made = transaction_rows(transactions, service_id=project.service_id, now=now)
            rows = made.rows
            if rows and metric_kinds({REQUEST_DURATION: MetricKind.TIMER})[REQUEST_DURATION] != MetricKind.TIMER:
                logger.warning("%s is not stored as a timer: transactions dropped", REQUEST_DURATION)
                made.dropped["series kind"] = len(rows)
                rows = []
            samples_write(rows)
            if rows:
                ITEMS.inc(len(rows), type="transaction", outcome="stored")
            for count in made.dropped.values():
                ITEMS.inc(count, type="transaction", outcome="dropped")


def _envelope(request: SdkRequest, project_id: int) -> Answer:
    credentials = sdk_auth(header=request.auth_header, query=request.query)
    project = _authenticate(project_id, credentials.key) if credentials else None
    data = _body(request)
    if project is None:  # tunnels forward browsers' envelopes with the DSN in the header instead
        project = _authenticate(project_id, key_from_dsn(envelope_dsn(data)))
    try:
        envelope = parse_envelope(data, limits=_limits())
    except EnvelopeError as exc:
        raise Refused(exc.status, exc.reason) from None
    events, transactions = _events(envelope)
    _store(project, events, transactions)
    ignored = Counter(item.type for item in envelope.items if item.type not in ("event", "transaction"))
    for kind, count in ignored.items():
        ITEMS.inc(count, type=kind if kind.isidentifier() and len(kind) <= 40 else "other", outcome="ignored")
    ratelimit_count(project_id=project.pk, items=len(events) + len(transactions), now=time.time())
    event_id = (events or transactions or [{}])[0].get("event_id") or envelope.headers.get("event_id")
    return _answer(200, {"id": event_id} if type(event_id) is str else {})


def _store_request(request: SdkRequest, project_id: int) -> Answer:
    credentials = sdk_auth(header=request.auth_header, query=request.query)
    project = _authenticate(project_id, credentials.key if credentials else "")
    try:
        event = parse_store(_body(request), limits=_limits())
        event["event_id"] = event_id_of(event)
    except EnvelopeError as exc:
        raise Refused(exc.status, exc.reason) from None
    if event.get("type") == "transaction":
        _store(project, [], [event])
    else:
        _store(project, [event], [])
    ratelimit_count(project_id=project.pk, items=1, now=time.time())
    return _answer(200, {"id": event["event_id"]})


def ingest(handler, request: SdkRequest, project_id: int) -> Answer:
    """The answer to a POST of `handler` (_envelope or _store_request): both adapters call this."""
    try:
        return handler(request, project_id)
    except Refused as exc:
        return _refusal(exc)


def _response(answer: Answer) -> JsonResponse:
    response = JsonResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


def _endpoint(handler):
    @csrf_exempt
    @own_body_limit  # ERRORS_INGEST_MAX_BODY_BYTES, read by _body (413 above it)
    def view(request, project_id: int):
        if request.method == "OPTIONS":
            response = HttpResponse(status=200)
            for name, value in PREFLIGHT_HEADERS.items():
                response[name] = value
            return response
        if request.method != "POST":
            response = _response(_answer(405, {"detail": "only POST is accepted"}))
            response["Allow"] = "POST, OPTIONS"
            return response
        sdk_request = SdkRequest(
            auth_header=request.headers.get("X-Sentry-Auth", ""),
            query=request.GET,
            content_encoding=request.headers.get("Content-Encoding", ""),
            read_body=lambda limit: body_read(request, limit=limit),
        )
        return _response(ingest(handler, sdk_request, project_id))

    view.__name__ = handler.__name__.strip("_")
    return view


envelope = _endpoint(_envelope)
store = _endpoint(_store_request)
