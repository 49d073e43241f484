"""`/api/v1/events/`: batched usage-event ingest for service keys; `/api/v1/analytics/features/`:
per-feature performance figures (read, viewers and up).

The ingest body is validated by plain code in analytics.store (no serializer per event); the
serializers here document the schema and validate query parameters.
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response

from analytics.behaviour import api as behaviour_api  # noqa: F401  (registers paths, next steps, funnels, retention)
from analytics.models import UsageEvent
from analytics.performance import (
    DEFAULT_RANGE,
    MAX_RANGE,
    RANGES,
    FeatureRow,
    feature_detail,
    feature_rows,
    feature_series,
    window_for,
)
from analytics.store import MAX_DURATION_MS, MAX_MEMORY_DELTA_BYTES, TEXT_FIELDS, EventsInvalid, events_insert
from monitoring.api.metrics import IngestErrorSerializer
from monitoring.metrics import counter
from portal.api.filters import BoundedDateTimeField, QueryParamsSerializer
from portal.api.ingest import (
    IDEMPOTENCY_KEY_PARAMETER,
    BodyLimit,
    envelope_items,
    envelope_service,
    errors_body,
    idempotency_key,
    ingest_body,
    json_parser,
    target_service,
    too_large_body,
)
from portal.api.permissions import is_service
from portal.api.router import router
from portal.lib.bodies import BodyTooLarge
from portal.models import Service

BODY_LIMIT = BodyLimit(items="events", setting="ANALYTICS_INGEST_MAX_BODY_BYTES")

accepted_total = counter(
    "portal_analytics_events_accepted_total", "Usage events stored by the ingest API", labelnames=("source",)
)
rejected_total = counter("portal_analytics_rejected_batches_total", "Usage event batches refused as invalid")


class EventSerializer(serializers.Serializer):
    """One usage event. Unknown fields are refused (a misspelt field would be lost silently)."""

    name = serializers.CharField(max_length=TEXT_FIELDS["name"], help_text="The feature or call, e.g. reports.export.")
    kind = serializers.ChoiceField(choices=UsageEvent.Kind.choices, required=False, help_text="Default: feature.")
    time = serializers.DateTimeField(
        required=False,
        help_text="ISO 8601 with a zone, or epoch seconds; default now. At most 5 minutes ahead and "
        "not older than ANALYTICS_EVENT_RETENTION_DAYS.",
    )
    event_id = serializers.CharField(
        max_length=TEXT_FIELDS["event_id"],
        required=False,
        help_text="The sender's id: an event with an id this service already stored is skipped.",
    )
    session_id = serializers.CharField(max_length=TEXT_FIELDS["session_id"], required=False)
    user_id = serializers.CharField(max_length=TEXT_FIELDS["user_id"], required=False, help_text="Opaque.")
    duration_ms = serializers.FloatField(min_value=0, max_value=MAX_DURATION_MS, required=False)
    success = serializers.BooleanField(required=False, help_text="Default: true unless error_type is given.")
    error_type = serializers.CharField(max_length=TEXT_FIELDS["error_type"], required=False)
    memory_delta_bytes = serializers.IntegerField(
        min_value=-MAX_MEMORY_DELTA_BYTES, max_value=MAX_MEMORY_DELTA_BYTES, required=False
    )
    cpu_time_ms = serializers.FloatField(min_value=0, max_value=MAX_DURATION_MS, required=False)
    metadata = serializers.DictField(
        required=False, help_text="Any JSON object, at most ANALYTICS_METADATA_MAX_BYTES (4,096) bytes as JSON."
    )


class EventsIngestSerializer(serializers.Serializer):
    """At most ANALYTICS_INGEST_MAX_BATCH (1,000) events and ANALYTICS_INGEST_MAX_BODY_BYTES
    (5,000,000) bytes per request."""

    service = serializers.SlugField(required=False, help_text="Only the key's own service; default it.")
    events = EventSerializer(many=True)


class EventsResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored.")
    skipped = serializers.IntegerField(help_text="Events whose event_id was already stored (not an error).")
    duplicate = serializers.BooleanField(help_text="True when this Idempotency-Key was already accepted.")


class EventViewSet(viewsets.ViewSet):
    """Usage events are written by services with their key; people read the analysis."""

    service_key_actions = ("create",)
    parser_classes = [json_parser(BODY_LIMIT)]
    own_body_limit = True  # ANALYTICS_INGEST_MAX_BODY_BYTES, checked by ingest_body (413 above it)

    @extend_schema(
        request=EventsIngestSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: EventsResultSerializer,
            200: OpenApiResponse(EventsResultSerializer, description="A retry of an accepted batch."),
            400: IngestErrorSerializer,
            413: OpenApiResponse(description="The body is over ANALYTICS_INGEST_MAX_BODY_BYTES; nothing was read."),
        },
    )
    def create(self, request):
        """Store a batch of events, all or nothing: when any event is invalid the answer is 400
        listing every bad one as `events[i].field`, and nothing from the batch is written."""
        if not is_service(request):
            raise exceptions.PermissionDenied("Usage events are written with a service key.")
        try:
            body = ingest_body(request, BODY_LIMIT)
        except BodyTooLarge as exc:  # 413, never 400: the batch may be valid, just too big at once
            return Response(too_large_body(exc.limit, BODY_LIMIT), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        service = target_service(request, envelope_service(body, "events"))
        key = idempotency_key(request)
        items = envelope_items(body, "events")
        try:
            outcome = events_insert(service=service, items=items, idempotency_key=key)
        except EventsInvalid as exc:
            rejected_total.inc()
            return Response(errors_body(exc.errors, items, "events"), status=status.HTTP_400_BAD_REQUEST)
        if not outcome.duplicate:
            accepted_total.inc(outcome.accepted, source=service.slug)
        code = status.HTTP_200_OK if outcome.duplicate else status.HTTP_201_CREATED
        body = {"accepted": outcome.accepted, "skipped": outcome.skipped, "duplicate": outcome.duplicate}
        return Response(body, status=code)


router.register("events", EventViewSet, basename="events")


class RangeQuerySerializer(QueryParamsSerializer):
    range = serializers.ChoiceField(
        choices=list(RANGES), required=False, help_text=f"A range ending now; default {DEFAULT_RANGE}."
    )
    since = BoundedDateTimeField(required=False, help_text="A custom range instead of `range` (at most 366 days).")
    until = BoundedDateTimeField(required=False, help_text="End of a custom range; default now.")
    service = serializers.SlugField(required=False, help_text="Only this service's events.")

    def validate(self, attrs):
        custom = "since" in attrs or "until" in attrs
        if custom and "range" in attrs:
            raise serializers.ValidationError({"range": ["Give either range or since/until."]})
        window = window_for(range_name=attrs.get("range"), since=attrs.get("since"), until=attrs.get("until"))
        if window.since >= window.until:
            raise serializers.ValidationError({"since": ["Must be before until."]})
        if window.until - window.since > MAX_RANGE:
            raise serializers.ValidationError({"since": [f"The range is at most {MAX_RANGE.days} days."]})
        attrs["window"] = window
        slug = attrs.get("service")
        attrs["service_obj"] = None
        if slug:
            attrs["service_obj"] = Service.objects.filter(slug=slug).first()
            if attrs["service_obj"] is None:
                raise serializers.ValidationError({"service": [f"No service with slug {slug!r}."]})
        return attrs


ORDERINGS = ("name", "count", "error_rate", "p50", "p95", "p99")


class FeatureListQuerySerializer(RangeQuerySerializer):
    ordering = serializers.ChoiceField(
        choices=[*ORDERINGS, *(f"-{o}" for o in ORDERINGS)], default="-count", help_text="Missing figures sort last."
    )


class FeatureTopErrorSerializer(serializers.Serializer):
    error_type = serializers.CharField()
    count = serializers.IntegerField()


class FeatureFiguresSerializer(serializers.Serializer):
    """Rates need ANALYTICS_MIN_SAMPLES events and percentiles as many durations; below that
    they are null and `enough_data`/`enough_durations` is false ("not enough data")."""

    count = serializers.IntegerField()
    errors = serializers.IntegerField()
    duration_count = serializers.IntegerField()
    enough_data = serializers.BooleanField()
    enough_durations = serializers.BooleanField()
    success_rate = serializers.FloatField(allow_null=True)
    error_rate = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True, help_text="Milliseconds, within 1 % (DDSketch).")
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)
    top_errors = FeatureTopErrorSerializer(many=True)


class FeatureSerializer(FeatureFiguresSerializer):
    service = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    previous = FeatureFiguresSerializer(help_text="The period of equal length just before.")
    change = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="Relative change vs the previous period."
    )


@extend_schema_serializer(many=False)  # the list action answers one object, not an array
class FeatureListSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    min_samples = serializers.IntegerField()
    features = FeatureSerializer(many=True)


class FeatureSeriesSerializer(serializers.Serializer):
    step = serializers.IntegerField(help_text="Seconds per point (UTC buckets).")
    starts = serializers.ListField(child=serializers.DateTimeField())
    calls = serializers.ListField(child=serializers.IntegerField())
    errors = serializers.ListField(child=serializers.IntegerField())
    p95 = serializers.ListField(child=serializers.FloatField(allow_null=True))


class FeatureDetailSerializer(FeatureListSerializer):
    feature = FeatureSerializer()
    series = FeatureSeriesSerializer()
    features = None


def feature_dict(row: FeatureRow, slugs: dict) -> dict:
    return {
        "service": slugs.get(row.service_id),
        "name": row.name,
        **row.current.as_dict(),
        "previous": row.previous.as_dict(),
        "change": row.change,
    }


def sort_rows(rows: list[FeatureRow], ordering: str) -> list[FeatureRow]:
    field, descending = ordering.lstrip("-"), ordering.startswith("-")
    if field == "name":
        return sorted(rows, key=lambda r: r.name, reverse=descending)
    present = [r for r in rows if getattr(r.current, field) is not None]
    missing = [r for r in rows if getattr(r.current, field) is None]
    return sorted(present, key=lambda r: getattr(r.current, field), reverse=descending) + missing


class FeatureViewSet(viewsets.ViewSet):
    """Per-feature performance: count, success and error rates, p50/p95/p99 duration, top error
    types, and the change against the previous period; ranges up to 6 h from raw events, longer
    ones from hour rollups in whole UTC hours."""

    lookup_field = "name"
    lookup_value_regex = ".+"  # feature names may hold dots and slashes

    @extend_schema(parameters=[FeatureListQuerySerializer], responses={200: FeatureListSerializer})
    def list(self, request):
        """Every feature used in the range (at most 500, the most used), sorted by `ordering`."""
        params = FeatureListQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data
        service = q["service_obj"]
        rows = feature_rows(q["window"], service_id=service.pk if service else None)
        rows = sort_rows(rows, q["ordering"])
        slugs = dict(Service.objects.filter(pk__in={r.service_id for r in rows}).values_list("pk", "slug"))
        return Response(
            {
                "since": q["window"].since,
                "until": q["window"].until,
                "min_samples": settings.ANALYTICS_MIN_SAMPLES,
                "features": [feature_dict(r, slugs) for r in rows],
            }
        )

    @extend_schema(parameters=[RangeQuerySerializer], responses={200: FeatureDetailSerializer})
    def retrieve(self, request, name=None):
        """One feature over every service (or `service`), with calls and p95 over time."""
        params = RangeQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data
        service = q["service_obj"]
        if len(name) > TEXT_FIELDS["name"] or "\x00" in name:
            raise exceptions.ValidationError({"name": [f"At most {TEXT_FIELDS['name']} characters, no NUL."]})
        service_id = service.pk if service else None
        row = feature_detail(q["window"], name=name, service_id=service_id)
        series = feature_series(q["window"], name=name, service_id=service_id)
        return Response(
            {
                "since": q["window"].since,
                "until": q["window"].until,
                "min_samples": settings.ANALYTICS_MIN_SAMPLES,
                "feature": feature_dict(row, {service_id: service.slug} if service else {}),
                "series": series,
            }
        )


router.register("analytics/features", FeatureViewSet, basename="analytics-features")
