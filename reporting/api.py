"""`/api/v1/reporting/…`: operations figures, uptime, metric trends and p95 regressions (read:
viewers and up; no service key). Every table is also CSV: `?format=csv` (`table=` picks one
when an answer has several)."""

import csv
import io
import json
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import renderers, serializers, viewsets
from rest_framework.response import Response

from monitoring.query import series_query
from portal.api.filters import BoundedDateTimeField, QueryParamsSerializer
from portal.api.renderers import FiniteJSONRenderer
from portal.api.router import router
from portal.models import Service
from reporting import trends
from reporting.operations import GROUPINGS, MAX_PERIOD, alert_figures, noisy_rules, oncall_load, uptime
from reporting.regressions import MAX_CHANGE_PERCENT, p95_regressions

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
# A trend's points: 24h at 10 minutes, 7d at an hour, 30d at 4 hours (hour rollups past a day).
TREND_STEPS = {"24h": 600, "7d": 3600, "30d": 4 * 3600}
MAX_SERIES = 50  # series of one metric in a trends answer
MAX_QUICK_MINUTES = 1440
MAX_FLAP_CYCLES = 1000


class CSVRenderer(renderers.BaseRenderer):
    """The answer's table as CSV: `rows` (set by the view) with their keys as the header.
    Errors are answered as JSON (ReportingViewSet.finalize_response)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is None or response.status_code >= 400 or not isinstance(data, dict) or "csv" not in data:
            return json.dumps(data, default=str).encode()
        rows = data["csv"]
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return out.getvalue().encode()


# Every table answers JSON, or CSV with ?format=csv (the `table=` parameter picks which table).
TABLE_RESPONSES = {(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR}


def _csv_wanted(request) -> bool:
    return getattr(request, "accepted_renderer", None) is not None and request.accepted_renderer.format == "csv"


class PeriodQuery(QueryParamsSerializer):
    range = serializers.ChoiceField(choices=list(RANGES), required=False, help_text="Ending now; default 7d.")
    since = BoundedDateTimeField(required=False, help_text="A custom period instead (at most 366 days).")
    until = BoundedDateTimeField(required=False, help_text="End of a custom period; default now.")

    def validate(self, attrs):
        now = timezone.now()
        if ("since" in attrs or "until" in attrs) and "range" in attrs:
            raise serializers.ValidationError({"range": ["Give either range or since/until."]})
        until = attrs.get("until") or now
        since = attrs.get("since") or until - RANGES[attrs.get("range", "7d")]
        if since >= until:
            raise serializers.ValidationError({"since": ["Must be before until."]})
        if until - since > MAX_PERIOD:
            raise serializers.ValidationError({"since": [f"The period is at most {MAX_PERIOD.days} days."]})
        attrs["since"], attrs["until"] = since, until
        return attrs


class OperationsQuery(PeriodQuery):
    by = serializers.ChoiceField(choices=list(GROUPINGS), default="service", help_text="How alerts are grouped.")
    quick_minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_QUICK_MINUTES, default=5, help_text="Auto-resolved within this is noise."
    )
    flap_cycles = serializers.IntegerField(
        min_value=2, max_value=MAX_FLAP_CYCLES, default=3, help_text="Fire cycles of one label set that flap."
    )
    table = serializers.ChoiceField(choices=["alerts", "noisy_rules", "oncall"], default="alerts", help_text="CSV.")


class UptimeQuery(PeriodQuery):
    table = serializers.ChoiceField(choices=["checks", "services"], default="checks", help_text="CSV only.")


class TrendsQuery(QueryParamsSerializer):
    metric = serializers.RegexField(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200, help_text="Metric name.")
    range = serializers.ChoiceField(choices=list(RANGES), default="7d", help_text="This period, ending now.")
    agg = serializers.ChoiceField(choices=["avg", "min", "max", "sum", "count", "last"], default="avg")
    service = serializers.SlugField(required=False, help_text="Only this service's series.")
    unit = serializers.ChoiceField(choices=list(trends.UNITS), default="day", help_text="Slope per hour or day.")
    threshold = serializers.FloatField(
        required=False, min_value=-1e15, max_value=1e15, help_text="Forecast when the line reaches it."
    )
    direction = serializers.ChoiceField(choices=["above", "below"], default="above")

    def validate_service(self, slug):
        service = Service.objects.filter(slug=slug).first()
        if service is None:
            raise serializers.ValidationError(f"No service with slug {slug!r}.")
        return service


class RegressionsQuery(QueryParamsSerializer):
    service = serializers.SlugField(help_text="The service whose endpoints are compared.")
    range = serializers.ChoiceField(choices=["1h", "24h", "7d"], default="24h", help_text="Against the one before.")
    min_change_percent = serializers.FloatField(min_value=0, max_value=MAX_CHANGE_PERCENT, default=10.0)
    min_requests = serializers.IntegerField(
        min_value=1, max_value=1_000_000, required=False, help_text="Default REPORTING_REGRESSION_MIN_REQUESTS."
    )

    validate_service = TrendsQuery.validate_service


def _table(data: dict, rows: list[dict], request) -> Response:
    if _csv_wanted(request):
        data = {**data, "csv": rows}
    return Response(data)


def _iso(moment):
    return moment.isoformat() if moment else None


class ReportingViewSet(viewsets.ViewSet):
    renderer_classes = [FiniteJSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # An error asked for as CSV is answered as JSON, with its own content type: a script
        # sees the field that was wrong, and the answer says what it is.
        if response.status_code >= 400 and _csv_wanted(request):
            request.accepted_renderer = FiniteJSONRenderer()
            request.accepted_media_type = request.accepted_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class OperationsViewSet(ReportingViewSet):
    @extend_schema(parameters=[OperationsQuery], responses=TABLE_RESPONSES)
    def list(self, request):
        """Alerts created in the period per service/severity/rule (count, MTTA and MTTR mean and
        median in seconds), noisy rules and on-call load. Bounded: at most 500 rows per table."""
        params = OperationsQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data
        since, until = q["since"], q["until"]
        tables = {
            "alerts": [asdict(r) for r in alert_figures(since=since, until=until, by=q["by"])],
            "noisy_rules": [
                asdict(r)
                for r in noisy_rules(
                    since=since, until=until, quick=timedelta(minutes=q["quick_minutes"]), flap_cycles=q["flap_cycles"]
                )
            ],
            "oncall": [asdict(r) for r in oncall_load(since=since, until=until)],
        }
        body = {"since": since, "until": until, "by": q["by"], "night_time_zone": settings.TIME_ZONE, **tables}
        return _table(body, tables[q["table"]], request)


class UptimeViewSet(ReportingViewSet):
    @extend_schema(parameters=[UptimeQuery], responses=TABLE_RESPONSES)
    def list(self, request):
        """Uptime % per enabled health check and per service (down while any of its checks is
        unhealthy), integrated exactly between stored status changes; unknown time is left out."""
        params = UptimeQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data
        checks, services = uptime(since=q["since"], until=q["until"])

        def row(u):
            return {
                "name": u.key,
                "service": u.service,
                "uptime_percent": u.percent,
                "known_seconds": u.known_seconds,
                "down_seconds": u.down_seconds,
            }

        tables = {"checks": [row(u) for u in checks], "services": [row(u) for u in services]}
        return _table({"since": q["since"], "until": q["until"], **tables}, tables[q["table"]], request)


def metric_trends(q: dict, *, now=None) -> dict:
    """Trend figures of each series of a metric (at most MAX_SERIES): this range against the
    one before, at TREND_STEPS."""
    now = now or timezone.now()
    window, step = RANGES[q["range"]], TREND_STEPS[q["range"]]
    service = q.get("service")
    found = series_query(
        name=q["metric"],
        since=now - 2 * window,
        until=now,
        step=step,
        agg=q["agg"],
        service_id=service.pk if service else None,
    )[:MAX_SERIES]
    cut = now - window
    out = []
    for series in found:
        current = [(t, v) for t, v in series.points if t >= cut]
        previous = [(t, v) for t, v in series.points if t < cut]
        figures = trends.trend(
            current,
            previous=previous,
            unit=q["unit"],
            threshold=q.get("threshold"),
            above=q["direction"] == "above",
            now=now,
        )
        present = [(t, v) for t, v in current if v is not None]
        out.append(
            {
                "labels": dict(series.labels),
                "points": figures.points,
                "slope": figures.slope,
                "unit": figures.unit,
                "mean": figures.mean,
                "previous_mean": figures.previous_mean,
                "change": figures.change,
                "change_percent": figures.change_percent,
                "anomalies": [_iso(present[i][0]) for i in figures.anomalies],
                "threshold": figures.threshold,
                "crosses_at": _iso(figures.crosses_at),
                "crosses_in_days": None if figures.crosses_in_seconds is None else figures.crosses_in_seconds / 86400,
                "series": [[_iso(t), v] for t, v in current],
            }
        )
    return {"metric": q["metric"], "range": q["range"], "step": step, "series": out}


class TrendsViewSet(ReportingViewSet):
    @extend_schema(parameters=[TrendsQuery], responses=TABLE_RESPONSES)
    def list(self, request):
        """Per series of `metric`: least-squares slope, change against the previous period,
        median/MAD anomalies (modified z > 3.5) and when the line reaches `threshold`."""
        params = TrendsQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        body = metric_trends(params.validated_data)
        rows = [
            {k: v for k, v in s.items() if k not in ("series", "anomalies")}
            | {"labels": json.dumps(s["labels"], sort_keys=True), "anomalies": len(s["anomalies"])}
            for s in body["series"]
        ]
        return _table(body, rows, request)


class RegressionsViewSet(ReportingViewSet):
    @extend_schema(parameters=[RegressionsQuery], responses=TABLE_RESPONSES)
    def list(self, request):
        """Endpoints of `service` whose p95 rose by `min_change_percent` or more against the
        period before; endpoints with fewer than `min_requests` requests in either are left out."""
        params = RegressionsQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data
        found, compared = p95_regressions(
            service_id=q["service"].pk,
            range_name=q["range"],
            min_requests=q.get("min_requests"),
            min_change_percent=q["min_change_percent"],
        )
        rows = [asdict(r) | {"change_percent": r.change_percent} for r in found]
        body = {
            "service": q["service"].slug,
            "range": q["range"],
            "compared": compared,
            "min_requests": q.get("min_requests") or settings.REPORTING_REGRESSION_MIN_REQUESTS,
            "regressions": rows,
        }
        return _table(body, rows, request)


router.register("reporting/operations", OperationsViewSet, basename="reporting-operations")
router.register("reporting/uptime", UptimeViewSet, basename="reporting-uptime")
router.register("reporting/trends", TrendsViewSet, basename="reporting-trends")
router.register("reporting/regressions", RegressionsViewSet, basename="reporting-regressions")

# Report subscriptions and stored reports register their own viewsets.
from reporting import subscriptions_api  # noqa: E402, F401
