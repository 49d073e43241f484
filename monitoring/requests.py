"""Request metrics: the series names shared by the middleware, the Sentry ingest and the
web-vitals beacon, and the middleware that records the portal's own requests.
"""

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
