from rest_framework.throttling import SimpleRateThrottle

from portal.models import ServiceKey


class ServiceKeyWriteThrottle(SimpleRateThrottle):
    """Limits writes per service key (a runaway client), never people or reads."""

    scope = "service_write"

    def get_cache_key(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS") or not isinstance(request.auth, ServiceKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
