"""Pages: operations figures (/reporting/operations/) and metric trends (/reporting/trends/),
with their Chart.js JSON (django-chartjs views). Parameters are validated by the API's query
serializers, so a page and the API refuse the same input with the same field named."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDay
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from monitoring.alerting.models import Alert, Severity
from portal.access import viewer_required
from portal.charts import PortalChartView
from portal.lib.linear import linear_fit
from reporting.api import RANGES, OperationsQuery, TrendsQuery, metric_trends
from reporting.operations import alert_figures, noisy_rules, oncall_load, uptime

CHART_SERIES = 5  # lines on the trends chart


def _errors(params) -> dict:
    return {field: " ".join(str(m) for m in messages) for field, messages in params.errors.items()}


@viewer_required
def operations_page(request):
    params = OperationsQuery(data=request.GET)
    context = {"ranges": list(RANGES), "query": request.GET}
    if not params.is_valid():
        return render(request, "reporting/ops.html", {**context, "errors": _errors(params)}, status=400)
    q = params.validated_data
    since, until = q["since"], q["until"]
    checks, services = uptime(since=since, until=until)
    context |= {
        "q": q,
        "since": since,
        "until": until,
        "alerts": alert_figures(since=since, until=until, by=q["by"]),
        "checks": checks,
        "services": services,
        "noisy": noisy_rules(
            since=since, until=until, quick=timedelta(minutes=q["quick_minutes"]), flap_cycles=q["flap_cycles"]
        )[:20],
        "oncall": oncall_load(since=since, until=until)[:20],
        "querystring": request.GET.urlencode(),
    }
    return render(request, "reporting/ops.html", context)


@viewer_required
def trends_page(request):
    context = {"ranges": list(RANGES), "query": request.GET}
    if "metric" not in request.GET:
        return render(request, "reporting/trends.html", context)
    params = TrendsQuery(data=request.GET)
    if not params.is_valid():
        return render(request, "reporting/trends.html", {**context, "errors": _errors(params)}, status=400)
    body = metric_trends(params.validated_data)
    context |= {"result": body, "querystring": request.GET.urlencode()}
    return render(request, "reporting/trends.html", context)


class AlertsPerDayChart(PortalChartView):
    """Alerts opened per UTC day of the period, one line per severity."""

    def get(self, request, *args, **kwargs):
        params = OperationsQuery(data=request.GET)
        if not params.is_valid():
            raise Http404("bad parameters")
        q = params.validated_data
        start = q["since"].astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.days = []
        while start < q["until"]:
            self.days.append(start)
            start += timedelta(days=1)
        rows = (
            Alert.objects.filter(created_at__gte=q["since"], created_at__lt=q["until"])
            .annotate(day=TruncDay("created_at", tzinfo=UTC))
            .values("day", "severity")
            .annotate(n=Count("pk"))
        )
        self.counts = defaultdict(int)
        for row in rows:
            self.counts[(row["day"], row["severity"])] = row["n"]
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        return [f"{d:%Y-%m-%d}" for d in self.days]  # UTC days

    def get_providers(self):
        return list(Severity.values)

    def get_data(self):
        return [[self.counts[(d, s)] for d in self.days] for s in Severity.values]


class TrendChart(PortalChartView):
    """The first series of a metric over the range with their least-squares lines."""

    def get(self, request, *args, **kwargs):
        params = TrendsQuery(data=request.GET)
        if not params.is_valid():
            raise Http404("bad parameters")
        body = metric_trends(params.validated_data, now=timezone.now())
        self.series = body["series"][:CHART_SERIES]
        self.times = [t for t, _ in self.series[0]["series"]] if self.series else []
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        return [timezone.localtime(datetime.fromisoformat(t)).strftime("%m-%d %H:%M") for t in self.times]

    def get_providers(self):
        names = []
        for s in self.series:
            shown = ",".join(f"{k}={v}" for k, v in sorted(s["labels"].items())) or "all"
            names += [shown, f"{shown} (fit)"]
        return names

    def get_data(self):
        data = []
        for s in self.series:
            values = [v for _, v in s["series"]]
            data.append(values)
            data.append(_fitted(s["series"]))
        return data


def _fitted(points) -> list:
    xs = [datetime.fromisoformat(t).timestamp() for t, v in points if v is not None]
    fit = linear_fit(xs, [v for _, v in points if v is not None])
    if fit is None:
        return [None] * len(points)
    slope, intercept = fit
    return [round(slope * datetime.fromisoformat(t).timestamp() + intercept, 4) for t, _ in points]
