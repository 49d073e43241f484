"""Chart.js JSON for the monitoring pages (django-chartjs views via portal.charts)."""

from datetime import timedelta

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from monitoring.models import HealthCheck
from monitoring.query import AGGREGATIONS, series_query
from portal.charts import PortalChartView
from portal.models import Service

# range name -> (window, step seconds): ~60-170 points each; 7d reads hour rollups.
RANGES = {"1h": (timedelta(hours=1), 60), "24h": (timedelta(hours=24), 600), "7d": (timedelta(days=7), 3600)}
MAX_SERIES = 12


def chosen_range(request) -> str:
    value = request.GET.get("range", "1h")
    return value if value in RANGES else "1h"


class MetricChart(PortalChartView):
    """One metric of one service over 1h/24h/7d; one line per label set (service excluded).

    Query string: range=1h|24h|7d, agg=avg|max|p95|..., label=name=value (repeatable filter)."""

    def get(self, request, *args, slug, name, **kwargs):
        service = get_object_or_404(Service, slug=slug)
        window, step = RANGES[chosen_range(request)]
        agg = request.GET.get("agg", "avg")
        if agg not in AGGREGATIONS:
            raise Http404("unknown aggregation")
        labels = dict(item.split("=", 1) for item in request.GET.getlist("label") if "=" in item)
        until = timezone.now()
        self.step = step
        self.series = series_query(
            name=name, since=until - window, until=until, step=step, agg=agg, service_id=service.pk, labels=labels
        )[:MAX_SERIES]
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        if not self.series:
            return []
        fmt = "%m-%d %H:%M" if self.step >= 3600 else "%H:%M"
        # Points are UTC steps; people read them in TIME_ZONE.
        return [timezone.localtime(t).strftime(fmt) for t, _ in self.series[0].points]

    def get_providers(self):
        return [", ".join(f"{k}={v}" for k, v in s.labels if k != "service") or s.name for s in self.series]

    def get_data(self):
        return [[None if v is None else round(v, 4) for _, v in s.points] for s in self.series]


class HealthLatencyChart(PortalChartView):
    """Latency of a check's last 100 results, oldest first."""

    def get(self, request, *args, pk, **kwargs):
        check = get_object_or_404(HealthCheck, pk=pk)
        rows = list(check.results.order_by("-created_at").values_list("created_at", "latency_ms")[:100])
        self.rows = rows[::-1]
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        return [timezone.localtime(t).strftime("%m-%d %H:%M:%S") for t, _ in self.rows]

    def get_providers(self):
        return ["latency (ms)"]

    def get_data(self):
        return [[latency for _, latency in self.rows]]
