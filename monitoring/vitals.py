"""Real users' page timings: the web-vitals beacon endpoint, POST /api/v1/vitals/.

A page loads the `web-vitals` script (served from the portal's static files) and
`monitoring/vitals.js`, which sends one beacon when the page is hidden or left:

    POST /api/v1/vitals/?key=<public key>
    {"route": "/orders/<int:pk>/", "vitals": [{"name": "LCP", "value": 1234.5}, ...]}

`navigator.sendBeacon` sends a string as text/plain (no CORS preflight) and a Blob with its
own type, so text/plain and application/json are both read as JSON. The key is public: it only
writes the `web_vitals` histogram of its own service, and only from the origins configured on it
(the portal's own pages use a key derived from SECRET_KEY, valid from the portal's own origin).
Each beacon is validated with plain code and written through the metrics ingest path
(`monitoring.ingest.metrics_ingest`): one insert, no per-beacon aggregation; rollups and
percentiles come later, as for any other series.
"""

import json
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.signing import salted_hmac
from django.http import HttpResponse, JsonResponse
from django.utils.html import format_html
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from monitoring.hosts import portal_service
from monitoring.ingest import IngestInvalid, metrics_ingest
from monitoring.labels import MAX_LABEL_VALUE
from monitoring.models import BrowserKey, MetricKind
from monitoring.models.vitals import origin_normalize
from monitoring.requests import VITALS, WEB_VITALS
from portal.lib.bodies import BodyTooLarge, body_read
from portal.lib.surrogates import json_repaired

# A beacon of five vitals is ~300 bytes; browsers cap a page's pending beacons at 64 KiB.
MAX_BODY_BYTES = 4096
MAX_VITALS = 10  # per beacon: the five vitals, and again after a back/forward-cache restore
MAX_ROUTE = MAX_LABEL_VALUE  # characters: the route is a label value
# Milliseconds for the times (10 minutes: a page left open in a background tab can report a long
# LCP or INP, longer is a broken clock); CLS is a unitless layout-shift score (in practice < 5).
MAX_VALUE = {"TTFB": 600_000.0, "FCP": 600_000.0, "LCP": 600_000.0, "INP": 600_000.0, "CLS": 100.0}
CONTENT_TYPES = ("text/plain", "application/json")
PREFLIGHT_MAX_AGE = "86400"


def portal_public_key() -> str:
    """The portal's own pages report with this key (stable across processes, no database row)."""
    return salted_hmac("monitoring.vitals.portal", "browser-key", algorithm="sha256").hexdigest()[:32]


def snippet_html(key: BrowserKey) -> str:
    """What a team pastes into its pages' base template."""
    base = settings.PORTAL_BASE_URL
    static = f"{base}{settings.STATIC_URL}"
    return format_html(
        '<pre>&lt;script src="{}vendor/web-vitals/web-vitals.iife.js" defer&gt;&lt;/script&gt;\n'
        '&lt;script src="{}monitoring/vitals.js" defer data-key="{}" data-endpoint="{}/api/v1/vitals/"\n'
        '        data-route="/orders/&lt;int:pk&gt;/"&gt;&lt;/script&gt;</pre>',
        static,
        static,
        key.public_key,
        base,
    )


class Refused(Exception):
    def __init__(self, status: int, field: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.field, self.message, self.headers = status, field, message, headers or {}

    def response(self) -> JsonResponse:
        response = JsonResponse({self.field: [self.message]}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


RATE_WINDOW = 60  # seconds: VITALS_RATE_PER_MINUTE counts beacons per key per UTC minute


def _rate_key(key: BrowserKey | None, now: float) -> str:
    return f"vitals:beacons:{key.pk if key is not None else 'portal'}:{int(now) // RATE_WINDOW}"


def rate_check(key: BrowserKey | None, now: float) -> None:
    """Refused (429 with Retry-After) when the key has used this minute's VITALS_RATE_PER_MINUTE.

    Counted in the Django cache like the Sentry ingest's limit: shared by every web process with
    Redis, per process with the local-memory cache. A public key in a busy site's pages (or copied
    by someone else) cannot fill the metrics store faster than this."""
    if cache.get(_rate_key(key, now), 0) >= settings.VITALS_RATE_PER_MINUTE:
        seconds = max(1, RATE_WINDOW - int(now) % RATE_WINDOW)
        message = f"At most {settings.VITALS_RATE_PER_MINUTE} beacons per minute for this key; retry in {seconds} s."
        raise Refused(429, "key", message, {"Retry-After": str(seconds)})


def rate_count(key: BrowserKey | None, now: float) -> None:
    """Count one accepted beacon (checked before, counted after: concurrent beacons may pass the
    limit by a few, which a lock on every beacon is not worth)."""
    name = _rate_key(key, now)
    cache.add(name, 0, timeout=RATE_WINDOW * 2)
    try:
        cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=RATE_WINDOW * 2)


def own_origin(request) -> str:
    return origin_normalize(request.build_absolute_uri("/"))


def key_find(raw, request) -> tuple[BrowserKey | None, frozenset[str]]:
    """The key's row (None for the portal's own key) and the origins it accepts."""
    if not isinstance(raw, str) or not raw:
        raise Refused(400, "key", 'A browser key is required (?key=… or "key" in the body).')
    if len(raw) == 32 and raw == portal_public_key():
        return None, frozenset({own_origin(request), origin_normalize(settings.PORTAL_BASE_URL)})
    key = BrowserKey.objects.select_related("service").filter(public_key=raw[:64], enabled=True).first()
    if key is None:
        raise Refused(403, "key", "Unknown or disabled browser key.")
    return key, frozenset(key.allowed_origins or ())


def origin_check(request, allowed: frozenset[str]) -> str:
    origin = request.headers.get("Origin", "")
    if not origin:
        raise Refused(403, "Origin", "The Origin header is required (browsers send it with beacons).")
    try:
        origin = origin_normalize(origin)
    except ValueError:
        raise Refused(403, "Origin", "Not an origin this key accepts.") from None
    if origin not in allowed:
        raise Refused(403, "Origin", "Not an origin this key accepts.")
    return origin


def _finite(value) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def payload_items(body) -> list[dict]:
    """The beacon as metric samples; Refused(400) naming the first bad field."""
    if not isinstance(body, dict):
        raise Refused(400, "body", "A JSON object with route and vitals.")
    route = body.get("route")
    if not isinstance(route, str) or not route.startswith("/") or len(route) > MAX_ROUTE:
        raise Refused(400, "route", f"A URL pattern starting with / of at most {MAX_ROUTE} characters.")
    if not route.isprintable():
        raise Refused(400, "route", "Control characters are not allowed.")
    vitals = body.get("vitals")
    if not isinstance(vitals, list) or not 1 <= len(vitals) <= MAX_VITALS:
        raise Refused(400, "vitals", f"A list of 1 to {MAX_VITALS} objects with name and value.")
    items = []
    for index, vital in enumerate(vitals):
        where = f"vitals[{index}]"
        if not isinstance(vital, dict):
            raise Refused(400, where, "An object with name and value.")
        name, value = vital.get("name"), vital.get("value")
        if name not in VITALS:
            raise Refused(400, f"{where}.name", f"One of {', '.join(VITALS)}.")
        if not _finite(value) or not 0 <= value <= MAX_VALUE[name]:
            raise Refused(400, f"{where}.value", f"A number from 0 to {MAX_VALUE[name]:g} for {name}.")
        items.append(
            {
                "name": WEB_VITALS,
                "type": MetricKind.HISTOGRAM,
                "value": float(value),
                "labels": {"route": route, "vital": name},
            }
        )
    return items


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    response["Vary"] = "Origin"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        # sendBeacon sends in credentials mode "include"; without this the browser reports the
        # beacon as failed. No cookie is read here, so allowing them exposes nothing.
        response["Access-Control-Allow-Credentials"] = "true"
    return response


BEACON_SCHEMA = inline_serializer(
    "VitalsBeacon",
    {
        "key": serializers.CharField(required=False, help_text="Or ?key= in the URL."),
        "route": serializers.CharField(max_length=MAX_ROUTE, help_text="The page's URL pattern, starting with /."),
        "vitals": inline_serializer(
            "VitalSample",
            {
                "name": serializers.ChoiceField(choices=VITALS),
                "value": serializers.FloatField(
                    min_value=0, max_value=600_000, help_text="Milliseconds (CLS: a score, at most 100)."
                ),
            },
            many=True,
        ),
    },
)


class VitalsBeacon(APIView):
    """Page timings from browsers (web-vitals), keyed by a public browser key."""

    authentication_classes: list = []  # the key in the URL or body is the only credential
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes: list = []  # read here, bounded (MAX_BODY_BYTES) and whatever the beacon's type
    own_body_limit = True

    @extend_schema(
        operation_id="vitals_preflight",
        parameters=[OpenApiParameter("key", required=True, description="The browser key.")],
        responses={204: None, 403: OpenApiResponse(description="Unknown key or origin not allowed.")},
    )
    def options(self, request, *args, **kwargs):
        """CORS preflight: answered only for an origin the key accepts."""
        try:
            _, allowed = key_find(request.query_params.get("key"), request)
            origin = origin_check(request, allowed)
        except Refused as exc:
            return _cors(exc.response(), None)
        response = _cors(HttpResponse(status=204), origin)
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response

    @extend_schema(
        operation_id="vitals_beacon",
        request={"text/plain": BEACON_SCHEMA, "application/json": BEACON_SCHEMA},
        parameters=[OpenApiParameter("key", required=False, description="The browser key (or `key` in the body).")],
        responses={
            204: None,
            400: OpenApiResponse(description="Malformed beacon; the body names the field."),
            403: OpenApiResponse(description="Unknown or disabled key, or an origin the key does not accept."),
            413: OpenApiResponse(description=f"Body over {MAX_BODY_BYTES} bytes."),
            415: OpenApiResponse(description="Neither text/plain nor application/json."),
            429: OpenApiResponse(description="The key's beacons per minute are used up (VITALS_RATE_PER_MINUTE)."),
        },
    )
    def post(self, request, *args, **kwargs):
        """Record one page's web vitals into the `web_vitals` histogram of the key's service."""
        try:
            return self._record(request)
        except Refused as exc:
            return _cors(exc.response(), None)

    def _record(self, request):
        try:
            raw = body_read(request._request, limit=MAX_BODY_BYTES)
        except BodyTooLarge:
            raise Refused(413, "body", f"At most {MAX_BODY_BYTES} bytes.") from None
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type not in CONTENT_TYPES:
            raise Refused(415, "Content-Type", f"Send {' or '.join(CONTENT_TYPES)}.")
        try:
            body = json_repaired(json.loads(raw), raw)
        except (ValueError, RecursionError):
            raise Refused(400, "body", "Not valid JSON.") from None
        key_raw = request.query_params.get("key") or (body.get("key") if isinstance(body, dict) else None)
        key, allowed = key_find(key_raw, request)
        now = time.time()
        rate_check(key, now)
        origin = origin_check(request, allowed)
        items = payload_items(body)
        service = key.service if key is not None else portal_service()
        try:
            metrics_ingest(service=service, items=items)
        except IngestInvalid as exc:  # e.g. web_vitals registered by hand as another kind
            first = exc.errors[0]
            raise Refused(400, "vitals", first.message) from None
        rate_count(key, now)
        return _cors(HttpResponse(status=204), origin)
