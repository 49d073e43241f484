"""`/api/v1/benchmarks/` (read: viewers and up) and `/api/v1/benchmarks/runs/` (read: viewers;
POST: CI with any service's key, or an admin's token).

A POST body is a pytest-benchmark `--benchmark-json` file or the plain JSON form (see
`reporting.benchmarks.runs`), at most the portal's request body limit (DATA_UPLOAD_MAX_MEMORY_SIZE,
2.5 MB by default; larger files go through `manage.py bench import`)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from portal.api.filters import QueryParamsSerializer
from portal.api.router import router
from reporting.benchmarks.alerts import runs_alert
from reporting.benchmarks.models import Benchmark, BenchmarkRun
from reporting.benchmarks.runs import PayloadError, runs_import
from reporting.hotspots_views import HotspotsViewSet


class BenchmarkSerializer(serializers.ModelSerializer):
    class Meta:
        model = Benchmark
        fields = ["id", "name", "group", "unit", "lower_is_better", "baseline", "baseline_runs", "min_change_percent"]


class RunSerializer(serializers.ModelSerializer):
    benchmark_name = serializers.CharField(source="benchmark.__str__", read_only=True)

    class Meta:
        model = BenchmarkRun
        fields = [
            "id",
            "benchmark",
            "benchmark_name",
            "count",
            "minimum",
            "maximum",
            "mean",
            "median",
            "stddev",
            "commit",
            "branch",
            "machine",
            "ran_at",
            "source",
            "verdict",
            "change_percent",
        ]


class RunDetailSerializer(RunSerializer):
    samples = serializers.ListField(child=serializers.FloatField(), source="sample_values", read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "samples"]


class RunQuery(QueryParamsSerializer):
    benchmark = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    branch = serializers.CharField(required=False, max_length=200)
    commit = serializers.CharField(required=False, max_length=64)


class ImportQuery(QueryParamsSerializer):
    branch = serializers.CharField(required=False, max_length=200, help_text="Wins over the file's branch.")
    commit = serializers.CharField(required=False, max_length=64, help_text="Wins over the file's commit.")
    alert = serializers.BooleanField(required=False, default=False, help_text="Raise an alert for each regression.")


class BenchmarkViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Benchmark.objects.all()
    serializer_class = BenchmarkSerializer
    lookup_value_regex = r"[0-9]+"


class BenchmarkRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = BenchmarkRun.objects.select_related("benchmark").defer("samples")
    serializer_class = RunSerializer
    lookup_value_regex = r"[0-9]+"
    service_key_actions = ("create",)  # CI uploads with a key; benchmarks belong to no one service

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            return BenchmarkRun.objects.select_related("benchmark")
        if self.action == "list":
            params = self._params()
            for key in ("benchmark", "branch", "commit"):
                if key in params:
                    queryset = queryset.filter(**{key: params[key]})
        return queryset

    def _params(self) -> dict:
        serializer = RunQuery(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get_serializer_class(self):
        return RunDetailSerializer if self.action == "retrieve" else RunSerializer

    @extend_schema(parameters=[RunQuery])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=dict,
        parameters=[ImportQuery],
        responses={
            201: RunSerializer(many=True),
            400: OpenApiResponse(description="The field that is wrong, e.g. {'benchmarks[0].samples': [...]}."),
        },
        description="Import one pytest-benchmark JSON file (or the plain JSON form); each benchmark becomes "
        "a run compared with its baseline on arrival. `verdict` is regression when it is slower.",
    )
    def create(self, request):
        query = ImportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            params = dict(query.validated_data)
            alert = params.pop("alert")
            runs = runs_import(data=request.data, **params)
        except PayloadError as exc:
            return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        if alert:
            runs_alert(runs=runs)
        return Response(RunSerializer(runs, many=True).data, status=status.HTTP_201_CREATED)


# Runs first: `benchmarks/runs/` must not be read as the benchmark with id "runs".
router.register("benchmarks/runs", BenchmarkRunViewSet, basename="benchmark-run")
router.register("benchmarks", BenchmarkViewSet, basename="benchmark")
# The hotspots answer lives with reporting's analysis modules; registered here, where the API's
# autodiscovery finds this app's `api` module.
router.register("reporting/hotspots", HotspotsViewSet, basename="reporting-hotspots")
