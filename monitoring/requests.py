"""Request metrics: the series names shared by the middleware, the Sentry ingest and the
web-vitals beacon, and `RequestMetricsMiddleware`, which records every request of a Django
project into the in-process registry (`monitoring.metrics`; the flusher writes it in batches, so
the request path does no I/O).

Per request: the route *pattern* ("/alerts/<int:pk>/", never the raw path, so the number of
series is bounded by the URLconf), the method, the status class and the duration. A request
whose handling raised is recorded once, as "5xx", and counted in REQUEST_EXCEPTIONS.

Settings (all optional, so the middleware works in any project):
- REQUESTS_METRICS_ENABLED (default True)
- REQUESTS_METRICS_EXCLUDE: path prefixes not recorded (default: static files, health checks,
  /metrics, the favicon)
- REQUESTS_METRICS_SAMPLE_RATE: fraction of requests recorded, 0..1 (default 1)
"""

import itertools
import logging
import random
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.signals import got_request_exception
from django.urls import Resolver404, resolve

from monitoring.labels import MAX_LABEL_VALUE
from monitoring.metrics import counter, timer

# Timer, labels {route, method, status_class}: one observation (seconds) per request.
REQUEST_DURATION = "http_request_duration_seconds"
# Counter, labels {route, method}: requests whose view raised (also recorded above as "5xx").
REQUEST_EXCEPTIONS = "http_request_exceptions_total"
# Histogram, labels {route, vital}: real browsers' page timings (milliseconds; CLS unitless).
WEB_VITALS = "web_vitals"
VITALS = ("TTFB", "FCP", "LCP", "INP", "CLS")
# The route of every path that matched no URL pattern: one bucket, whatever scanners try.
UNRESOLVED = "<unresolved>"
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
DEFAULT_EXCLUDE = ("/static/", "/health/", "/metrics", "/favicon.ico")
# A client may send any method name; anything else is one label value, so the series stay bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "OTHER"
# A failing recorder logs its first failure and then one in this many, not once per request.
LOG_EVERY = 1000
MAX_CACHED_SERIES = 10_000
_perf_counter = time.perf_counter

logger = logging.getLogger(__name__)
_RAISED = "_request_metrics_raised"


def _mark_raised(sender, request=None, **kwargs) -> None:
    """Django sends got_request_exception for exceptions it turns into a 500 (not Http404,
    PermissionDenied or a bad request), from the view and from middleware inside ours alike."""
    if request is not None:
        setattr(request, _RAISED, True)


got_request_exception.connect(_mark_raised, dispatch_uid="monitoring.requests.raised")


def route_of(match) -> str:
    """The URL pattern of a resolver match, as "/alerts/<int:pk>/".

    Django joins the patterns of nested includes into `match.route`; regular-expression routes
    keep their expression without its anchors ("^items/(?P<pk>[0-9]+)/$" → "/items/(?P<pk>[0-9]+)/")."""
    if match is None:
        return UNRESOLVED
    route = match.route
    if route is None:
        return UNRESOLVED
    route = route.lstrip("^")
    if route.endswith("\\Z"):
        route = route[:-2]
    elif route.endswith("$") and not route.endswith("\\$"):
        route = route[:-1]
    route = "/" + route
    return route if len(route) <= MAX_LABEL_VALUE else route[: MAX_LABEL_VALUE - 1] + "…"


def request_route(request, status: int) -> str:
    """The route of a request. When middleware answered before URL resolution (413 body too large,
    503 database down, a lockout) the path is resolved here, so those answers keep their route;
    a 404 without a match is UNRESOLVED without resolving twice."""
    match = getattr(request, "resolver_match", None)
    if match is None and status != 404:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            match = None
    return route_of(match)


def status_class(status: int) -> str:
    return STATUS_CLASSES[min(max(status // 100, 1), 5) - 1]


class RequestMetricsMiddleware:
    """Times each request and records it; place it early (right after SecurityMiddleware and
    WhiteNoise) so the time spent in the other middleware counts."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = getattr(settings, "REQUESTS_METRICS_ENABLED", True)
        self.exclude = tuple(getattr(settings, "REQUESTS_METRICS_EXCLUDE", DEFAULT_EXCLUDE))
        rate = float(getattr(settings, "REQUESTS_METRICS_SAMPLE_RATE", 1.0))
        self.sample_rate = min(max(rate, 0.0), 1.0)
        self.every = self.enabled and self.sample_rate >= 1.0
        self.timer = timer(REQUEST_DURATION, "Request duration", labelnames=("method", "route", "status_class"))
        self.exceptions = counter(REQUEST_EXCEPTIONS, "Requests that raised", labelnames=("method", "route"))
        self.registry = self.timer.registry
        # (raw route of the match, method, status, raised) -> series: the common request costs
        # one dict lookup instead of normalizing the route and building labels every time.
        self._series: dict[tuple, tuple] = {}
        self._failures = itertools.count()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def wanted(self, request) -> bool:
        if not self.enabled or request.path_info.startswith(self.exclude):
            return False
        # Sampling only thins the data; nothing depends on it being unpredictable.
        return self.sample_rate >= 1.0 or random.random() < self.sample_rate  # noqa: S311

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        # wanted() inlined for the common case: a method call is a noticeable share of the cost.
        if not (self.every and not request.path_info.startswith(self.exclude)) and not self.wanted(request):
            return self.get_response(request)
        start = _perf_counter()
        response = None
        try:
            response = self.get_response(request)
        finally:
            # Without a response the handler raised (DEBUG_PROPAGATE_EXCEPTIONS, or a test client
            # re-raising): recorded as a raised 500 and left to propagate.
            self.record(request, response, start)
        return response

    async def _acall(self, request):
        if not self.wanted(request):
            return await self.get_response(request)
        start = _perf_counter()
        response = None
        try:
            response = await self.get_response(request)
        finally:
            self.record(request, response, start)
        return response

    def record(self, request, response, start: float) -> None:
        """Never raises: a metrics problem must not turn a good answer into an error."""
        end = _perf_counter()
        try:
            if response is None or getattr(request, _RAISED, False):
                status, raised = 500, True
            else:
                status, raised = response.status_code, False
            match = request.resolver_match
            key = (None if match is None else match.route, request.method, status, raised)
            found = self._series.get(key)
            if found is None:
                found = self._series_for(request, key)
            registry = self.registry
            registry.observe(found[0], end - start, end + registry.clock_offset)
            if raised:
                self.exceptions.inc(method=found[1], route=found[2])
        except Exception:
            failures = next(self._failures)
            if failures % LOG_EVERY == 0:
                logger.exception("request metrics not recorded (%d failures so far)", failures + 1)

    def _series_for(self, request, key: tuple) -> tuple:
        """(series, method label, route label) of a request not seen in this form before."""
        _, method, status, raised = key
        method = method if method in METHODS else OTHER_METHOD
        route = request_route(request, status)
        klass = "5xx" if raised else status_class(status)
        found = (self.timer.series({"method": method, "route": route, "status_class": klass}), method, route)
        # Not kept: an early answer without a match (its route depends on the path), and new keys
        # once the cache is full (clients choose methods, and status codes are many).
        if (key[0] is not None or status == 404) and len(self._series) < MAX_CACHED_SERIES:
            self._series[key] = found
        return found
