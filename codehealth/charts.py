"""Trend charts of a repository (Chart.js JSON through django-chartjs)."""

from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from codehealth.models import CodeRepository, CodeScan
from portal.charts import PortalChartView

POINTS = 60
SERIES = {
    "quality": [
        ("average complexity", lambda s: _round(s.average_complexity)),
        ("average cognitive", lambda s: _round(s.average_cognitive)),
        ("average MI", lambda s: _round(s.average_mi)),
    ],
    "debt": [
        ("open debt items", lambda s: s.debt_count),
        ("debt hours", lambda s: round(s.debt_minutes / 60, 1)),
    ],
}


def _round(value):
    return None if value is None else round(value, 2)


class TrendChart(PortalChartView):
    """The last scans of a repository in commit (or scan) time order; `series` picks the lines."""

    def get(self, request, *args, pk: int, series: str, **kwargs):
        if series not in SERIES:
            raise Http404("unknown series")
        repository = get_object_or_404(CodeRepository, pk=pk)
        self.lines = SERIES[series]
        scans = (
            CodeScan.objects.filter(repository=repository, status=CodeScan.Status.SUCCEEDED)
            .annotate(at=Coalesce("committed_at", "queued_at"))
            .order_by("-at", "-id")[:POINTS]
        )
        self.scans = list(reversed(scans))
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        # Stored in UTC; people read TIME_ZONE.
        return [
            f"{timezone.localtime(s.at):%Y-%m-%d %H:%M}" + (f" {s.commit[:7]}" if s.commit else "") for s in self.scans
        ]

    def get_providers(self):
        return [label for label, _ in self.lines]

    def get_data(self):
        return [[value(s) for s in self.scans] for _, value in self.lines]
