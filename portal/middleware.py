"""Bodies over Django's form/upload limit get 413, not 400.

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE with a SuspiciousOperation, which
becomes a 400 ("invalid, do not retry") for a request that was only too big. Views with a
documented limit of their own (metrics ingest, heartbeat pings) read the stream themselves
(portal.lib.bodies) and are marked with `own_body_limit`; every other view is answered here,
before CSRF or a parser touches the body."""

from django.conf import settings
from django.http import JsonResponse

from portal.lib.bodies import declared_length


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
