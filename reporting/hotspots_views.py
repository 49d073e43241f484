"""`/reporting/hotspots/`: modules ranked by complexity x changes x runtime impact, and features
nobody used lately with the debt they carry. `/api/v1/reporting/hotspots/` answers the same."""

from dataclasses import asdict

from django import forms
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from codehealth.models import CodeRepository
from portal.access import viewer_required
from portal.api.filters import QueryParamsSerializer
from portal.api.renderers import FiniteJSONRenderer
from reporting.hotspot_rank import MAX_DAYS
from reporting.hotspots import DEFAULT_DAYS, DEFAULT_UNUSED_DAYS, MAX_UNUSED_DAYS, dead_features, hotspots_report


def _repository(pk):
    queryset = CodeRepository.objects.select_related("service").order_by("name")
    return queryset.filter(pk=pk).first() if pk else queryset.first()


class HotspotsForm(forms.Form):
    repository = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    days = forms.IntegerField(required=False, min_value=1, max_value=MAX_DAYS, initial=DEFAULT_DAYS)
    unused_days = forms.IntegerField(required=False, min_value=1, max_value=MAX_UNUSED_DAYS)


@viewer_required
def hotspots_page(request):
    form = HotspotsForm(request.GET or None)
    params = form.cleaned_data if form.is_valid() else {}
    if request.GET and not form.is_valid():
        return render(request, "reporting/hotspots.html", {"form": form}, status=400)
    report = hotspots_report(repository=_repository(params.get("repository")), days=params.get("days") or DEFAULT_DAYS)
    unused = params.get("unused_days") or DEFAULT_UNUSED_DAYS
    context = {
        "form": form,
        "report": report,
        "dead": dead_features(unused_days=unused),
        "unused_days": unused,
        "repositories": CodeRepository.objects.order_by("name"),
    }
    return render(request, "reporting/hotspots.html", context)


class HotspotsQuery(QueryParamsSerializer):
    repository = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    days = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DAYS, default=DEFAULT_DAYS)
    unused_days = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_UNUSED_DAYS, default=DEFAULT_UNUSED_DAYS
    )

    def validate_repository(self, value):
        if not CodeRepository.objects.filter(pk=value).exists():
            raise serializers.ValidationError("No such code repository.")
        return value


class HotspotsViewSet(viewsets.ViewSet):
    """Read: viewers and up; no service key."""

    renderer_classes = [FiniteJSONRenderer]

    @extend_schema(parameters=[HotspotsQuery], responses={200: dict})
    def list(self, request):
        """`hotspots`: path, complexity, changes (commits in `days`), impact (1-4), score, requests,
        errors, p95 (s); `service`: slug of the service whose request figures were read (null: the
        portal's own), `endpoints_tied` / `endpoints_untied`: its endpoints tied to a module or not;
        `dead_features`: service, name, last_used, days_unused, package, debt_minutes."""
        query = HotspotsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        report = hotspots_report(repository=_repository(params.get("repository")), days=params["days"])
        body = asdict(report)
        body["dead_features"] = dead_features(unused_days=params["unused_days"])
        body["unused_days"] = params["unused_days"]
        return Response(body)
