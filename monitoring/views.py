"""Monitoring pages: overview, one page per service with charts, health checks and their history."""

from datetime import timedelta

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from monitoring.charts import RANGES, chosen_range
from monitoring.healthchecks.history import share_not_unhealthy
from monitoring.models import (
    CheckKind,
    HealthCheck,
    HealthStatus,
    HeartbeatPing,
    HourRollup,
    Metric,
    MetricKind,
    MetricSample,
    PingKind,
)
from monitoring.query import floor_hour, rollup_watermark
from monitoring.request_stats import status_summary
from portal.access import viewer_required
from portal.models import Service

# Charts of the host collectors, in page order: (title, metric, label filter, aggregation).
SYSTEM_CHARTS = [
    ("CPU % (all cores)", "system_cpu_percent", "cpu=total", "avg"),
    ("Memory %", "system_memory_percent", "", "avg"),
    ("Swap %", "system_swap_percent", "", "avg"),
    ("Load average (1 min)", "system_load1", "", "avg"),
    ("Load average (5 min)", "system_load5", "", "avg"),
    ("Load average (15 min)", "system_load15", "", "avg"),
    ("Disk usage % per mount", "system_disk_percent", "", "max"),
    ("Disk I/O bytes/s", "system_disk_io_bytes_per_second", "", "avg"),
    ("Network bytes/s", "system_network_bytes_per_second", "", "avg"),
    ("Processes", "system_process_count", "", "avg"),
]
SYSTEM_NAMES = {name for _, name, _, _ in SYSTEM_CHARTS}
MAX_OTHER_CHARTS = 12
SHOWN_PINGS = 50
CHART_AGG = {MetricKind.COUNTER: "rate", MetricKind.HISTOGRAM: "p95", MetricKind.TIMER: "p95"}


def _status_counts(queryset):
    return queryset.aggregate(
        healthy=Count("id", filter=Q(last_status=HealthStatus.HEALTHY)),
        degraded=Count("id", filter=Q(last_status=HealthStatus.DEGRADED)),
        unhealthy=Count("id", filter=Q(last_status=HealthStatus.UNHEALTHY)),
        pending=Count("id", filter=Q(last_status="")),
    )


@viewer_required
def index(request):
    now = timezone.now()
    services = Service.objects.annotate(
        checks=Count("health_checks", filter=Q(health_checks__enabled=True)),
        unhealthy=Count(
            "health_checks", filter=Q(health_checks__enabled=True, health_checks__last_status=HealthStatus.UNHEALTHY)
        ),
        degraded=Count(
            "health_checks", filter=Q(health_checks__enabled=True, health_checks__last_status=HealthStatus.DEGRADED)
        ),
    ).order_by("name")
    mark = rollup_watermark()
    context = {
        "services": services,
        "counts": _status_counts(HealthCheck.objects.filter(enabled=True)),
        "metric_count": Metric.objects.count(),
        "rollup_lag": (now - mark) if mark else None,
    }
    return render(request, "monitoring/index.html", context)


def _metric_names(service: Service, since) -> set[str]:
    # Hour rollups: every rolled minute has its hour's row (a partial hour too), at 1/60 the rows.
    rolled = HourRollup.objects.filter(service=service, start__gte=floor_hour(since)).values_list("name", flat=True)
    mark = rollup_watermark() or since
    # The few minutes not rolled up yet, de-duplicated here: DISTINCT would make SQLite walk the
    # whole (name, time) index instead of the time range (an index on service costs every ingest).
    raw = MetricSample.objects.filter(service=service, time__gte=max(since, mark)).values_list("name", flat=True)
    return set(rolled.distinct()) | set(raw.order_by().iterator(chunk_size=10_000))


@viewer_required
def service_detail(request, slug):
    service = get_object_or_404(Service, slug=slug)
    range_name = chosen_range(request)
    names = _metric_names(service, timezone.now() - RANGES[range_name][0])
    system = [chart for chart in SYSTEM_CHARTS if chart[1] in names]
    others = sorted(names - SYSTEM_NAMES)[:MAX_OTHER_CHARTS]
    kinds = dict(Metric.objects.filter(name__in=others).values_list("name", "kind"))
    context = {
        "service": service,
        "range": range_name,
        "ranges": list(RANGES),
        "system_charts": system,
        # counters chart their rate, distributions their p95, gauges their average
        "other_metrics": [(name, CHART_AGG.get(kinds.get(name), "avg")) for name in others],
        "more_metrics": max(0, len(names - SYSTEM_NAMES) - MAX_OTHER_CHARTS),
        "checks": service.health_checks.filter(enabled=True).order_by("name"),
        # Prometheus exporters scraped for this service (monitoring.integrations), with their health.
        "scrape_targets": service.scrape_targets.order_by("url"),
        "requests": status_summary(service_id=service.pk, range_name=range_name),
    }
    return render(request, "monitoring/service.html", context)


@viewer_required
def health(request):
    checks = HealthCheck.objects.select_related("service").order_by("service__name", "name")
    context = {"checks": checks, "counts": _status_counts(checks.filter(enabled=True))}
    return render(request, "monitoring/health.html", context)


@viewer_required
def health_detail(request, pk):
    check = get_object_or_404(HealthCheck.objects.select_related("service"), pk=pk)
    now = timezone.now()
    results = check.results.order_by("-created_at")[:100]  # status changes, newest first
    share = share_not_unhealthy(check=check, since=now - timedelta(days=1), until=now)
    uptime = None if share is None else round(100 * share, 2)
    context = {
        "check": check,
        "results": results,
        "pings": _pings_with_durations(check) if check.kind == CheckKind.HEARTBEAT else [],
        "uptime": uptime,
        "ping_url": request.build_absolute_uri(check.ping_path),
    }
    return render(request, "monitoring/health_detail.html", context)


def _pings_with_durations(check: HealthCheck) -> list[HeartbeatPing]:
    """The latest pings, newest first; a success or fail that follows a start gets the job's
    run time as `duration` (like healthchecks: from the start ping of that run). One more ping
    than shown is read, so the oldest shown run can still find its start."""
    pings = list(check.pings.order_by("-created_at", "-id")[: SHOWN_PINGS + 1])
    started = None
    for ping in reversed(pings):
        ping.duration = None
        if ping.kind == PingKind.START:
            started = ping.created_at
        elif started is not None:
            ping.duration = ping.created_at - started
            started = None
    return pings[:SHOWN_PINGS]
