"""`/api/v1/metrics/`: batched ingest for service keys, metric list, series queries.

The ingest body is validated by plain code in monitoring.ingest (no serializer per sample);
the serializers here only document the schema and validate query parameters.
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from monitoring.ingest import IngestInvalid, metrics_ingest
from monitoring.metrics import counter
from monitoring.models import Metric, MetricKind
from monitoring.query import AGGREGATIONS, series_list, series_query
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
from portal.api.router import router
from portal.lib.bodies import BodyTooLarge
from portal.lib.gc_pause import gc_paused
from portal.models import Service

MAX_POINTS = 2000
MAX_STEP = 366 * 86400  # a year: `since + step` stays a date whatever the bounded `since`


BODY_LIMIT = BodyLimit(items="samples", setting="METRICS_INGEST_MAX_BODY_BYTES")
IngestJSONParser = json_parser(BODY_LIMIT)


ingested_total = counter(
    "portal_metrics_ingested_samples_total", "Samples accepted by the ingest API", labelnames=("source",)
)
rejected_total = counter("portal_metrics_rejected_batches_total", "Ingest batches refused as invalid")


class SampleSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200)
    value = serializers.FloatField(help_text="A finite number (no NaN or infinity).")
    labels = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    time = serializers.DateTimeField(required=False, help_text="ISO 8601 with a zone, or epoch seconds; default now.")
    type = serializers.ChoiceField(choices=MetricKind.choices, required=False)


class IngestSerializer(serializers.Serializer):
    """At most METRICS_INGEST_MAX_BATCH (default 5,000) samples per request."""

    service = serializers.SlugField(required=False, help_text="Defaults to the key's service; people must set it.")
    samples = SampleSerializer(many=True)


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.BooleanField(help_text="True when this Idempotency-Key was already accepted.")


class IngestErrorSerializer(serializers.Serializer):
    """Invalid samples: `detail` and every bad item in `errors`. A problem with the request as a
    whole (no `samples`, an unknown `service`, a long Idempotency-Key) names that field instead,
    like every other endpoint: {"samples": ["This field is required."]}."""

    detail = serializers.CharField(required=False)
    errors = inline_serializer(
        "IngestItemError",
        {"index": serializers.IntegerField(), "field": serializers.CharField(), "message": serializers.CharField()},
        many=True,
        required=False,
    )


class MetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = Metric
        fields = ["id", "name", "kind", "help", "unit", "created_at"]
        read_only_fields = ["created_at"]


class QuerySerializer(QueryParamsSerializer):
    name = serializers.CharField(max_length=200)
    service = serializers.SlugField(required=False)
    agg = serializers.ChoiceField(choices=AGGREGATIONS, default="avg")
    step = serializers.IntegerField(
        min_value=60, max_value=MAX_STEP, default=60, help_text="Seconds; a multiple of 60, at most a year."
    )
    since = BoundedDateTimeField(required=False, help_text="Default: one hour before `until`.")
    until = BoundedDateTimeField(required=False, help_text="Default: now.")
    label = serializers.ListField(
        child=serializers.RegexField(r"^[a-zA-Z_][a-zA-Z0-9_]*=.*$"),
        required=False,
        help_text="Exact label matchers, repeated: label=route=/cart&label=method=GET.",
    )

    def validate(self, attrs):
        until = attrs.get("until") or timezone.now()
        since = attrs.get("since") or until - timedelta(hours=1)
        if since >= until:
            raise serializers.ValidationError({"since": ["must be before until"]})
        if attrs["step"] % 60:
            raise serializers.ValidationError({"step": ["must be a multiple of 60 seconds"]})
        if (until - since).total_seconds() / attrs["step"] > MAX_POINTS:
            raise serializers.ValidationError({"step": [f"too small for this window: at most {MAX_POINTS} points"]})
        attrs["since"], attrs["until"] = since, until
        attrs["labels"] = dict(item.split("=", 1) for item in attrs.get("label", []))
        return attrs


class SeriesListQuerySerializer(QueryParamsSerializer):
    name = serializers.CharField(max_length=200)
    service = serializers.SlugField(required=False)
    since = BoundedDateTimeField(required=False, help_text="Default: 24 hours before `until`.")
    until = BoundedDateTimeField(required=False, help_text="Default: now.")


class SeriesLabelsSerializer(serializers.Serializer):
    labels = serializers.DictField(child=serializers.CharField(), help_text="Including `service`.")


class SeriesSerializer(serializers.Serializer):
    name = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField())
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField()), help_text="[ISO time, value or null] per step"
    )


class QueryResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    agg = serializers.CharField()
    step = serializers.IntegerField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    series = SeriesSerializer(many=True)


class MetricViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Metric names and kinds (read), batched ingest (service keys), series queries (read)."""

    queryset = Metric.objects.all()
    serializer_class = MetricSerializer
    filterset_fields = {"kind": ["exact"], "name": ["exact", "startswith"]}
    ordering_fields = ["name", "created_at"]
    service_key_actions = ("create",)
    parser_classes = [IngestJSONParser]
    own_body_limit = True  # METRICS_INGEST_MAX_BODY_BYTES, checked by ingest_body (413 above it)

    @extend_schema(
        request=IngestSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: IngestResultSerializer,
            200: OpenApiResponse(IngestResultSerializer, description="A retry of an accepted batch."),
            400: IngestErrorSerializer,
        },
    )
    def create(self, request, *args, **kwargs):
        """Store a batch of samples, all or nothing: when any item is invalid the answer is 400
        listing every bad item by index and field, and nothing from the batch is written."""
        try:
            body = ingest_body(request, BODY_LIMIT)
        except BodyTooLarge as exc:  # 413, never 400: the batch may be valid, just too big at once
            return Response(too_large_body(exc.limit, BODY_LIMIT), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        service = target_service(request, envelope_service(body, "samples"))
        key = idempotency_key(request)
        items = envelope_items(body, "samples")
        try:
            outcome = metrics_ingest(service=service, items=items, idempotency_key=key)
        except IngestInvalid as exc:
            rejected_total.inc()
            return Response(errors_body(exc.errors, items, "samples"), status=status.HTTP_400_BAD_REQUEST)
        if not outcome.duplicate:
            ingested_total.inc(outcome.accepted, source=service.slug)
        code = status.HTTP_200_OK if outcome.duplicate else status.HTTP_201_CREATED
        return Response({"accepted": outcome.accepted, "duplicate": outcome.duplicate}, status=code)

    def _service_id(self, slug):
        if not slug:
            return None
        service = Service.objects.filter(slug=slug).first()
        if service is None:
            raise exceptions.ValidationError({"service": [f"No service with slug {slug!r}."]})
        return service.pk

    @extend_schema(parameters=[SeriesListQuerySerializer], responses={200: SeriesLabelsSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def series(self, request):
        """The label sets a metric had in a window (default the last 24 hours), e.g. to pick
        series for a chart. Not paginated: label sets per metric are few by design."""
        params = SeriesListQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data
        until = q.get("until") or timezone.now()
        since = q.get("since") or until - timedelta(hours=24)
        keys = series_list(name=q["name"], since=since, until=until, service_id=self._service_id(q.get("service")))
        return Response([{"labels": dict(key)} for key in keys])

    @extend_schema(parameters=[QuerySerializer], responses={200: QueryResultSerializer})
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def query(self, request):
        """Aggregation `agg` of metric `name` per series at `step` seconds over [since, until);
        from hour rollups for whole-hour steps, minute rollups, and raw samples not rolled up yet."""
        params = QuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data
        service_id = self._service_id(q.get("service"))
        with gc_paused():  # a week of 60 series is ~50k short-lived objects, no cycles among them
            found = series_query(
                name=q["name"],
                since=q["since"],
                until=q["until"],
                step=q["step"],
                agg=q["agg"],
                service_id=service_id,
                labels=q["labels"],
            )
            series = [
                {"name": s.name, "labels": s.label_dict, "points": [[t.isoformat(), v] for t, v in s.points]}
                for s in found
            ]
        return Response(
            {
                "name": q["name"],
                "agg": q["agg"],
                "step": q["step"],
                "since": q["since"],
                "until": q["until"],
                "series": series,
            }
        )


router.register("metrics", MetricViewSet)
