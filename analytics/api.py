"""`/api/v1/events/`: batched usage-event ingest for service keys; `/api/v1/analytics/features/`:
per-feature performance figures (read, viewers and up).

The ingest body is validated by plain code in analytics.store (no serializer per event); the
serializers here document the schema and validate query parameters.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response

from analytics.models import UsageEvent
from analytics.store import MAX_DURATION_MS, MAX_MEMORY_DELTA_BYTES, TEXT_FIELDS, EventsInvalid, events_insert
from monitoring.api.metrics import IngestErrorSerializer
from monitoring.metrics import counter
from portal.api.ingest import (
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
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="Retrying a batch with the same key (per service, kept 24 h) writes nothing again.",
            )
        ],
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
