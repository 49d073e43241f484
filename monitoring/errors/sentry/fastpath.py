"""The SDK ingest without Django's request machinery: a WSGI wrapper around the portal's application.

An envelope POST needs none of the middleware stack (no session, no CSRF, no user, no messages:
the public key decides) and none of Django's request and response objects; through them it cost
about a third of the endpoint's CPU (bench/error_ingest_profile.py). `ingest_fast_path(app)`
answers `POST /api/<project id>/envelope/` and `/store/` itself, through the same `ingest` as the
Django views (views.py), and hands everything else to `app` unchanged — including these paths
when it cannot stand in for the middleware: a host not in ALLOWED_HOSTS, plain HTTP under
SECURE_SSL_REDIRECT, any other method (preflights, 405).

What it keeps of the middleware: the request metrics (`http_request_duration_seconds` with the
route pattern, as RequestMetricsMiddleware records it), the 503 + Retry-After for a database
that cannot be reached (DatabaseUnavailableMiddleware), unexpected exceptions logged and captured
as error events (a 500), and Django's request_started / request_finished signals (connection housekeeping).
"""

import json
import logging
import random
import re
import time
from urllib.parse import parse_qsl

from django.conf import settings
from django.core import signals
from django.db import InterfaceError, OperationalError
from django.http.request import split_domain_port, validate_host

from monitoring.errors.capture import capture_exception
from monitoring.errors.sentry import views
from monitoring.metrics import counter, timer
from monitoring.requests import REQUEST_DURATION, REQUEST_EXCEPTIONS, status_class
from portal.lib.bodies import BodyTooLarge
from portal.middleware import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)

_PATH = re.compile(r"/api/([0-9]{1,18})/(envelope|store)/\Z")
_HANDLERS = {"envelope": views._envelope, "store": views._store_request}
# The routes the URLconf gives these views (monitoring/errors/sentry/urls.py), as the middleware records them.
_ROUTES = {"envelope": "/api/<int:project_id>/envelope/", "store": "/api/<int:project_id>/store/"}
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 413: "Content Too Large"}
_REASONS |= {415: "Unsupported Media Type", 429: "Too Many Requests", 500: "Internal Server Error"}
_REASONS |= {503: "Service Unavailable"}


def _read_body(environ: dict):
    """A reader with the semantics of portal.lib.bodies.body_read, on the WSGI input."""

    def read(limit: int) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            length = None
        if length is not None and length > limit:
            raise BodyTooLarge(limit)
        stream = environ["wsgi.input"]
        if length is None or length < 0:
            # Without a length only a server that de-chunks and ends the input may be read to the end.
            if not environ.get("wsgi.input_terminated"):
                return b""
            wanted = limit + 1
        else:
            wanted = length
        chunks, left = [], wanted
        while left > 0:
            chunk = stream.read(min(left, 64 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise BodyTooLarge(limit)
        return data

    return read


class IngestFastPath:
    def __init__(self, app):
        self.app = app
        self.metrics = getattr(settings, "REQUESTS_METRICS_ENABLED", True)
        self.sample_rate = min(max(float(getattr(settings, "REQUESTS_METRICS_SAMPLE_RATE", 1.0)), 0.0), 1.0)
        self.timer = timer(REQUEST_DURATION, "Request duration", labelnames=("method", "route", "status_class"))
        self.exceptions = counter(REQUEST_EXCEPTIONS, "Requests that raised", labelnames=("method", "route"))
        self._series: dict[tuple[str, int], object] = {}

    def __call__(self, environ, start_response):
        match = _PATH.match(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "POST" else None
        if match is None or not self._may_answer(environ):
            return self.app(environ, start_response)
        return self._ingest(environ, start_response, int(match[1]), match[2])

    def _may_answer(self, environ: dict) -> bool:
        """Whether the middleware would let this request through to the view (else Django answers)."""
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        domain, _port = split_domain_port(host)
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        if not domain or not validate_host(domain, allowed):
            return False
        if settings.SECURE_SSL_REDIRECT and environ.get("wsgi.url_scheme") != "https":
            header = settings.SECURE_PROXY_SSL_HEADER
            if not header or environ.get(header[0]) != header[1]:
                return False
        return True

    def _ingest(self, environ: dict, start_response, project_id: int, kind: str):
        start = time.perf_counter()
        raised = False
        # Django's request signals, as its WSGI handler sends them: connection housekeeping
        # (close_old_connections), query log reset; Django's test client disconnects them alike.
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            query = environ.get("QUERY_STRING", "")
            request = views.SdkRequest(
                auth_header=environ.get("HTTP_X_SENTRY_AUTH", ""),
                query=dict(parse_qsl(query, keep_blank_values=True)) if query else {},
                content_encoding=environ.get("HTTP_CONTENT_ENCODING", ""),
                read_body=_read_body(environ),
            )
            answer = views.ingest(_HANDLERS[kind], request, project_id)
        except (OperationalError, InterfaceError) as exc:
            logger.error("POST %s: database unavailable: %s", environ.get("PATH_INFO"), exc)
            detail = f"The database is unavailable; retry in {RETRY_AFTER_SECONDS} seconds."
            answer = views._answer(503, {"detail": detail}, {"Retry-After": str(RETRY_AFTER_SECONDS)})
        except Exception as exc:
            raised = True
            logger.exception("POST %s failed", environ.get("PATH_INFO"))
            self._capture(exc)
            answer = views._answer(500, {"detail": "internal error"})
        finally:
            signals.request_finished.send(sender=self.__class__)
        body = json.dumps(answer.body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        headers += [(name, str(value)) for name, value in answer.headers.items()]
        start_response(f"{answer.status} {_REASONS.get(answer.status, 'Error')}", headers)
        self._record(kind, answer.status, raised, start)
        return [body]

    def _capture(self, exc: Exception) -> None:
        if getattr(settings, "ERRORS_CAPTURE_ENABLED", False):
            capture_exception(exc, mechanism="django")

    def _record(self, kind: str, status: int, raised: bool, start: float) -> None:
        """As RequestMetricsMiddleware records a request; never raises."""
        # Sampling only thins the data; nothing depends on it being unpredictable.
        if not self.metrics or (self.sample_rate < 1.0 and random.random() >= self.sample_rate):  # noqa: S311
            return
        try:
            end = time.perf_counter()
            series = self._series.get((kind, status))
            if series is None:
                labels = {"method": "POST", "route": _ROUTES[kind], "status_class": status_class(status)}
                series = self._series[(kind, status)] = self.timer.series(labels)
            registry = self.timer.registry
            registry.observe(series, end - start, end + registry.clock_offset)
            if raised:
                self.exceptions.inc(method="POST", route=_ROUTES[kind])
        except Exception:
            logger.exception("request metrics of the ingest not recorded")


def ingest_fast_path(app):
    """`app` with the Sentry SDK ingest answered before Django's handler (see the module docstring)."""
    return IngestFastPath(app)
