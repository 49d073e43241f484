"""Chart.js JSON for the monitoring pages (django-chartjs views via portal.charts)."""

from datetime import timedelta

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from monitoring.healthchecks.runner import LATENCY_METRIC
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
    """A check's run latency over the last 24 hours in 10-minute steps, average and maximum, from
    the metric every run records (results are stored only when the status changes)."""

    window, step = RANGES["24h"]

    def get(self, request, *args, pk, **kwargs):
        check = get_object_or_404(HealthCheck, pk=pk)
        until = timezone.now()
        self.lines = {}
        for agg in ("avg", "max"):
            found = series_query(
                name=LATENCY_METRIC,
                since=until - self.window,
                until=until,
                step=self.step,
                agg=agg,
                labels={"check_id": str(check.pk)},
            )
            self.lines[agg] = found[0].points if found else []  # one series: the portal records it
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        return [timezone.localtime(t).strftime("%H:%M") for t, _ in self.lines["avg"]]

    def get_providers(self):
        return ["average (ms)", "maximum (ms)"]

    def get_data(self):
        return [[None if v is None else round(v, 3) for _, v in self.lines[agg]] for agg in ("avg", "max")]
