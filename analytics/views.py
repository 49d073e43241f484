"""Analytics pages of the performance side: the features table and one feature's detail."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from analytics.performance import DEFAULT_RANGE, RANGES, feature_detail, feature_rows, window_for
from portal.access import viewer_required
from portal.models import Service

# column key -> (heading, attribute of the current figures or "name"); the table sorts by any.
COLUMNS = [
    ("name", "Feature"),
    ("count", "Calls"),
    ("success_rate", "Success"),
    ("error_rate", "Errors"),
    ("p50", "p50 ms"),
    ("p95", "p95 ms"),
    ("p99", "p99 ms"),
]
SORTS = {key for key, _ in COLUMNS}


def page_range(request) -> str:
    value = request.GET.get("range", DEFAULT_RANGE)
    return value if value in RANGES else DEFAULT_RANGE


def page_service(request) -> Service | None:
    slug = request.GET.get("service", "")
    if not slug:
        return None
    service = Service.objects.filter(slug=slug[:100]).first()
    if service is None:
        raise Http404("No such service.")
    return service


def _sorted(rows, sort: str):
    key, descending = sort.lstrip("-"), sort.startswith("-")
    if key == "name":
        return sorted(rows, key=lambda r: r.name.lower(), reverse=descending)
    present = [r for r in rows if getattr(r.current, key) is not None]
    missing = [r for r in rows if getattr(r.current, key) is None]  # "not enough data" sorts last
    return sorted(present, key=lambda r: getattr(r.current, key), reverse=descending) + missing


@viewer_required
def features(request):
    range_name = page_range(request)
    service = page_service(request)
    sort = request.GET.get("sort", "-count")
    if sort.lstrip("-") not in SORTS:
        sort = "-count"
    window = window_for(range_name=range_name, now=timezone.now())
    rows = _sorted(feature_rows(window, service_id=service.pk if service else None), sort)
    services = {s.pk: s for s in Service.objects.filter(pk__in={r.service_id for r in rows})}
    columns = [(key, label, f"-{key}" if sort != f"-{key}" else key) for key, label in COLUMNS]
    return render(
        request,
        "analytics/features.html",
        {
            "rows": [(r, services.get(r.service_id)) for r in rows],
            "columns": columns,
            "sort": sort,
            "range": range_name,
            "ranges": list(RANGES),
            "service": service,
            "window": window,
            "min_samples": settings.ANALYTICS_MIN_SAMPLES,
        },
    )


@viewer_required
def feature(request, name: str):
    if len(name) > 200 or "\x00" in name:
        raise Http404("No such feature.")
    range_name = page_range(request)
    service = page_service(request)
    window = window_for(range_name=range_name, now=timezone.now())
    row = feature_detail(window, name=name, service_id=service.pk if service else None)
    return render(
        request,
        "analytics/feature.html",
        {
            "name": name,
            "row": row,
            "range": range_name,
            "ranges": list(RANGES),
            "service": service,
            "window": window,
            "min_samples": settings.ANALYTICS_MIN_SAMPLES,
            "query": request.GET.urlencode(),
        },
    )
