"""The endpoints pages: every route of a service with its traffic, errors and latency, and one
page per endpoint with its charts (Chart.js JSON from django-chartjs views)."""

from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from monitoring.labels import MAX_LABEL_VALUE
from monitoring.request_stats import (
    DEFAULT_RANGE,
    ORDERINGS,
    RANGES,
    endpoint_series,
    endpoints_sorted,
    request_stats,
)
from monitoring.requests import VITALS
from portal.access import viewer_required
from portal.charts import PortalChartView
from portal.models import Service

DEFAULT_ORDERING = "-requests"
MAX_METHOD = 10
# Columns of the endpoints table: (heading, ordering key); a second click sorts the other way.
COLUMNS = [
    ("Route", "route"),
    ("Method", "method"),
    ("Requests", "requests"),
    ("Per minute", "per_minute"),
    ("Error rate", "error_rate"),
    ("Raised", "raised"),
    ("p50 (ms)", "p50"),
    ("p95 (ms)", "p95"),
    ("p99 (ms)", "p99"),
]


def range_of(request) -> str:
    value = request.GET.get("range", DEFAULT_RANGE)
    return value if value in RANGES else DEFAULT_RANGE


def ordering_of(request) -> str:
    value = request.GET.get("sort", DEFAULT_ORDERING)
    return value if value.lstrip("-") in ORDERINGS else DEFAULT_ORDERING


def chosen_service(request, services: list[Service]) -> Service | None:
    """The service asked for (404 when unknown), else the first one with a name."""
    slug = request.GET.get("service")
    if slug:
        return get_object_or_404(Service, slug=slug)
    return services[0] if services else None


def endpoint_of(request) -> tuple[str, str] | None:
    """(route, method) from the query string, or None when missing or longer than a label can be."""
    route, method = request.GET.get("route", ""), request.GET.get("method", "")
    if not route or len(route) > MAX_LABEL_VALUE or not method or len(method) > MAX_METHOD:
        return None
    return route, method


@viewer_required
def endpoints(request):
    services = list(Service.objects.order_by("name"))
    service = chosen_service(request, services)
    range_name, ordering = range_of(request), ordering_of(request)
    stats = request_stats(service_id=service.pk, range_name=range_name) if service else None
    rows = endpoints_sorted(stats.endpoints, ordering) if stats else []
    context = {
        "services": services,
        "service": service,
        "range": range_name,
        "ranges": list(RANGES),
        "ordering": ordering,
        "columns": [
            (heading, key, ordering.lstrip("-") == key, f"-{key}" if ordering != f"-{key}" else key)
            for heading, key in COLUMNS
        ],
        "rows": rows,
        "vitals": stats.vitals if stats else {},
        "vital_names": VITALS,
    }
    return render(request, "monitoring/endpoints.html", context)


@viewer_required
def endpoint_detail(request, slug):
    service = get_object_or_404(Service, slug=slug)
    endpoint = endpoint_of(request)
    if endpoint is None:
        return HttpResponseBadRequest(f"route and method: both required (route at most {MAX_LABEL_VALUE} characters)")
    route, method = endpoint
    range_name = range_of(request)
    stats = request_stats(service_id=service.pk, range_name=range_name)
    found = next((e for e in stats.endpoints if (e.route, e.method) == endpoint), None)
    context = {
        "service": service,
        "route": route,
        "method": method,
        "range": range_name,
        "ranges": list(RANGES),
        "stats": found,
        "vitals": stats.vitals.get(route) if method == "GET" else None,
        "vital_names": VITALS,
    }
    return render(request, "monitoring/endpoint_detail.html", context)


class EndpointChart(PortalChartView):
    """One endpoint over the range: `what=latency` (p50/p95/p99 in ms) or `what=throughput`
    (requests and 5xx answers per minute). Query string: route, method, range."""

    def get(self, request, *args, slug, **kwargs):
        service = get_object_or_404(Service, slug=slug)
        endpoint = endpoint_of(request)
        if endpoint is None:
            return HttpResponseBadRequest("route and method: both required")
        self.what = "throughput" if request.GET.get("what") == "throughput" else "latency"
        self.range = range_of(request)
        self.found = endpoint_series(
            service_id=service.pk, route=endpoint[0], method=endpoint[1], range_name=self.range
        )
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        fmt = "%m-%d %H:%M" if RANGES[self.range][1] >= 3600 else "%H:%M"
        return [timezone.localtime(t).strftime(fmt) for t in self.found.starts]

    def get_providers(self):
        if self.what == "throughput":
            return ["requests per minute", "5xx per minute"]
        return ["p50 (ms)", "p95 (ms)", "p99 (ms)"]

    def get_data(self):
        lines = self.found.lines
        if self.what == "throughput":
            return [[round(v, 3) for v in lines[name]] for name in ("requests", "errors")]
        return [[None if v is None else round(1000 * v, 2) for v in lines[p]] for p in ("p50", "p95", "p99")]
