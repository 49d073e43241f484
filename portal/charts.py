"""Chart.js JSON built with django-chartjs view classes."""

import itertools
import json
from datetime import UTC, timedelta

from chartjs.views.base import ComplexEncoder
from chartjs.views.lines import BaseLineChartView
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.http import JsonResponse
from django.utils import timezone
from django_q.models import Task

from portal.lib.finite import json_finite
from portal.roles import VIEWER, has_role
from reporting.dashboard import RangeError, request_series, span_of
from reporting.dashboard_tiles import error_event_series

# A colour-blind-friendly qualitative palette (Okabe & Ito), as RGB.
PALETTE = [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233), (117, 112, 179)]


class PortalChartView(LoginRequiredMixin, BaseLineChartView):
    """Chart JSON for people with the viewer role (or higher).

    django-chartjs puts the view object itself in the JSON context; we drop it."""

    raise_exception = True  # JSON endpoints answer 403, not a redirect to the login page

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not has_role(request.user, VIEWER):
            raise PermissionDenied("Charts need the viewer role.")
        return super().dispatch(request, *args, **kwargs)

    def get_colors(self):
        # django-chartjs starts with light greys; lines need colours people can tell apart.
        return itertools.cycle(PALETTE)

    def get_dataset_options(self, index, color):
        rgb = ", ".join(str(c) for c in color)
        return {
            "borderColor": f"rgb({rgb})",
            "backgroundColor": f"rgba({rgb}, 0.15)",
            "pointRadius": 0,
            "borderWidth": 2,
            "tension": 0.2,
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.pop("view", None)
        return context

    def convert_context_to_json(self, context):
        # django-chartjs writes inf/NaN as bare `Infinity`/`NaN`, which browsers' JSON.parse
        # refuses (the chart stays blank): they become null, a gap in the line.
        return json.dumps(json_finite(context), cls=ComplexEncoder, allow_nan=False)


def hour_buckets(now, hours: int) -> list:
    """The last `hours` UTC hours: time is bucketed in UTC, only labels are in TIME_ZONE (a local
    hour in a half-hour zone such as Asia/Kolkata would match no UTC bucket)."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [end - timedelta(hours=h) for h in range(hours - 1, -1, -1)]


class TasksPerHourChart(PortalChartView):
    """Background tasks finished per hour over the last day, split by outcome."""

    hours = 24

    def get(self, request, *args, **kwargs):
        self.buckets = hour_buckets(timezone.now(), self.hours)
        rows = (
            Task.objects.filter(stopped__gte=self.buckets[0])
            .annotate(hour=TruncHour("stopped", tzinfo=UTC))
            .values("hour")
            .annotate(ok=Count("id", filter=Q(success=True)), failed=Count("id", filter=Q(success=False)))
        )
        self.counts = {row["hour"]: row for row in rows}
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        return [timezone.localtime(b).strftime("%H:%M") for b in self.buckets]

    def get_providers(self):
        return ["succeeded", "failed"]

    def get_data(self):
        empty = {"ok": 0, "failed": 0}
        return [
            [self.counts.get(b, empty)["ok"] for b in self.buckets],
            [self.counts.get(b, empty)["failed"] for b in self.buckets],
        ]


# Dashboard range -> label format of its steps (5 min, 1 h, 6 h, 1 day).
LABEL_FORMATS = {"1h": "%H:%M", "24h": "%H:%M", "7d": "%a %H:%M", "30d": "%b %d"}


class DashboardChart(PortalChartView):
    """A chart of the overview dashboard over its time range (`?range=`, as the page)."""

    def get(self, request, *args, **kwargs):
        try:
            self.span = span_of(request.GET.get("range"), now=timezone.now())
        except RangeError as exc:
            return JsonResponse({"range": [str(exc)]}, status=400)
        self.load()
        return super().get(request, *args, **kwargs)

    def load(self) -> None:
        raise NotImplementedError

    def get_labels(self):
        # Steps of a day or more are UTC days (as every bucket): the local date of a UTC midnight
        # is the day before west of Greenwich. Shorter steps are shown in local time.
        fmt = LABEL_FORMATS[self.span.name]
        zone = UTC if self.span.step >= 86400 else timezone.get_current_timezone()
        return [b.astimezone(zone).strftime(fmt) for b in self.buckets]


class DashboardRequestsChart(DashboardChart):
    """Requests and 5xx answers per step, every service together (request rollups)."""

    def load(self) -> None:
        self.buckets, self.requests, self.errors = request_series(self.span)

    def get_providers(self):
        return ["requests", "5xx answers"]

    def get_data(self):
        return [self.requests, self.errors]


class DashboardErrorsChart(DashboardChart):
    """Error events per step, from the error groups' hour counts."""

    def load(self) -> None:
        self.buckets, self.events = error_event_series(self.span)

    def get_providers(self):
        return ["error events"]

    def get_data(self):
        return [self.events]
