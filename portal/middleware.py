"""Bodies over Django's form/upload limit get 413, not 400; a database that cannot be reached
gets 503 with Retry-After, not 500.

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE with a SuspiciousOperation, which
becomes a 400 ("invalid, do not retry") for a request that was only too big. Views with a
documented limit of their own (metrics ingest, heartbeat pings) read the stream themselves
(portal.lib.bodies) and are marked with `own_body_limit`; every other view is answered here,
before CSRF or a parser touches the body."""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

from portal.lib.bodies import declared_length

logger = logging.getLogger(__name__)


def own_body_limit(view):
    """Mark a view (function or class) that enforces its own body limit."""
    view.own_body_limit = True
    return view


def _has_own_limit(view_func) -> bool:
    cls = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    return bool(getattr(view_func, "own_body_limit", False) or getattr(cls, "own_body_limit", False))


class BodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = declared_length(request)
        if limit is None or length is None or length <= limit or _has_own_limit(view_func):
            return None
        return JsonResponse({"detail": f"The request body exceeds {limit} bytes.", "limit_bytes": limit}, status=413)


RETRY_AFTER_SECONDS = 30
# Machines call these: they get JSON they can read, people get a page.
MACHINE_PATHS = ("/api/", "/ping/", "/health/", "/metrics")
OUTAGE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Database unavailable</title></head>
<body><h1>The database is unavailable</h1>
<p>The portal cannot reach its database right now. Try again in a minute.</p></body></html>
"""


class DatabaseUnavailableMiddleware:
    """A view that cannot reach the database answers 503 with Retry-After, not a 500.

    OperationalError and InterfaceError are the database server down, restarting or out of
    connections: worth retrying, unlike a bug. Clients and load balancers back off and retry;
    a service's metrics batch is sent again instead of being dropped as rejected. Nothing here
    touches the database (no template context processors, no session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("%s %s: database unavailable: %s", request.method, request.path, exception)
        if request.path.startswith(MACHINE_PATHS):
            response = JsonResponse(
                {"detail": f"The database is unavailable; retry in {RETRY_AFTER_SECONDS} seconds."}, status=503
            )
        else:
            response = HttpResponse(OUTAGE_PAGE, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
