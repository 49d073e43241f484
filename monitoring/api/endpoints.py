"""`/api/v1/endpoints/`: per-endpoint traffic, errors and latency of one service (read-only;
people with the viewer role, not service keys)."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.response import Response

from monitoring.request_stats import DEFAULT_RANGE, ORDERINGS, RANGES, endpoints_sorted, request_stats
from monitoring.requests import VITALS
from portal.api.filters import QueryParamsSerializer
from portal.api.router import router
from portal.models import Service


class EndpointQuerySerializer(QueryParamsSerializer):
    service = serializers.SlugField(max_length=100, help_text="The service's slug.")
    range = serializers.ChoiceField(choices=list(RANGES), default=DEFAULT_RANGE)
    ordering = serializers.ChoiceField(
        choices=[*ORDERINGS, *(f"-{o}" for o in ORDERINGS)],
        default="-requests",
        help_text="A column; prefixed with - for descending. Endpoints without a value come last.",
    )


class EndpointSerializer(serializers.Serializer):
    route = serializers.CharField(help_text='The URL pattern, e.g. "/alerts/<int:pk>/", or "<unresolved>".')
    method = serializers.CharField()
    requests = serializers.IntegerField()
    per_minute = serializers.FloatField()
    errors = serializers.IntegerField(help_text="5xx answers, raised requests included.")
    client_errors = serializers.IntegerField(help_text="4xx answers.")
    raised = serializers.IntegerField(help_text="Requests whose handling raised an exception.")
    error_rate = serializers.FloatField(allow_null=True, help_text="errors / requests, 0..1.")
    p50 = serializers.FloatField(allow_null=True, help_text="Seconds (within 1 %).")
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)


class PageVitalsSerializer(serializers.Serializer):
    route = serializers.CharField()
    p75 = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text=f"p75 per vital ({', '.join(VITALS)}): milliseconds, CLS unitless.",
    )


class EndpointListSerializer(serializers.Serializer):
    service = serializers.SlugField()
    range = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    endpoints = EndpointSerializer(many=True)
    vitals = PageVitalsSerializer(many=True)


class EndpointViewSet(viewsets.GenericViewSet):
    """Endpoints (route and method) of a service over 1h/24h/7d/30d, from the request series
    that the request middleware and Sentry transactions write. Not paginated: a service's
    routes are bounded by its URL patterns."""

    pagination_class = None
    filter_backends = []
    serializer_class = EndpointListSerializer

    @extend_schema(parameters=[EndpointQuerySerializer], responses={200: EndpointListSerializer})
    def list(self, request):
        params = EndpointQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data
        service = Service.objects.filter(slug=q["service"]).first()
        if service is None:
            raise exceptions.ValidationError({"service": [f"No service with slug {q['service']!r}."]})
        stats = request_stats(service_id=service.pk, range_name=q["range"])
        endpoints = [
            {
                "route": e.route,
                "method": e.method,
                "requests": e.requests,
                "per_minute": e.per_minute,
                "errors": e.errors,
                "client_errors": e.client_errors,
                "raised": e.raised,
                "error_rate": e.error_rate,
                "p50": e.p50,
                "p95": e.p95,
                "p99": e.p99,
            }
            for e in endpoints_sorted(stats.endpoints, q["ordering"])
        ]
        return Response(
            {
                "service": service.slug,
                "range": q["range"],
                "since": stats.since,
                "until": stats.until,
                "endpoints": endpoints,
                "vitals": [{"route": route, "p75": p75} for route, p75 in stats.vitals.items()],
            }
        )


router.register("endpoints", EndpointViewSet, basename="endpoint")
