"""Chart.js JSON of one feature (django-chartjs views via portal.charts): calls and p95 over time."""

from django.utils import timezone

from analytics.performance import feature_series, window_for
from analytics.views import page_range, page_service
from portal.charts import PortalChartView


class FeatureChart(PortalChartView):
    """One feature over the page's range: `calls` (calls and errors per step) or `p95` (ms)."""

    kind = "calls"

    def get(self, request, *args, name, **kwargs):
        service = page_service(request)
        window = window_for(range_name=page_range(request), now=timezone.now())
        self.series = feature_series(window, name=name[:200], service_id=service.pk if service else None)
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        fmt = "%m-%d %H:%M" if self.series["step"] >= 3600 else "%H:%M"
        # Buckets are UTC; people read them in TIME_ZONE.
        return [timezone.localtime(t).strftime(fmt) for t in self.series["starts"]]

    def get_providers(self):
        return ["Calls", "Errors"] if self.kind == "calls" else ["p95 duration (ms)"]

    def get_data(self):
        if self.kind == "calls":
            return [self.series["calls"], self.series["errors"]]
        return [[None if v is None else round(v, 3) for v in self.series["p95"]]]
