"""Code health API: repositories (admin writes; operators may "scan now"), quality gates, and
read-only scans, files, functions and debt items with filters."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from codehealth.analyzer import Thresholds
from codehealth.filters import DebtFilter, FileFilter, FunctionFilter, ScanFilter, SeverityOrdering, with_severity_rank
from codehealth.imports import graph_json, scan_graph
from codehealth.models import (
    MAX_SCAN_EVERY_HOURS,
    CodeRepository,
    CodeScan,
    DebtItem,
    FileMetrics,
    FunctionMetrics,
    QualityGate,
    latest_scan,
)
from codehealth.tasks import scan_queue
from portal.api.filters import PortalFilterBackend
from portal.api.router import router
from portal.models import Service
from portal.roles import OPERATOR


class QualityGateSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualityGate
        fields = [
            "id", "name", "max_new_debt", "new_debt_severity", "min_average_mi", "max_function_complexity",
            "min_pylint_score",
        ]  # fmt: skip


class RepositorySerializer(serializers.ModelSerializer):
    excludes = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    thresholds = serializers.DictField(required=False, help_text='Overrides, e.g. {"complexity": 15}.')
    service = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Service.objects.all(),
        required=False,
        allow_null=True,
        help_text="Slug of the service running this code: its request figures weigh the hotspots.",
    )

    class Meta:
        model = CodeRepository
        fields = [
            "id", "name", "path", "excludes", "use_default_excludes", "thresholds", "pylint_enabled", "gate",
            "service", "scan_every_hours", "next_scan_at", "created_at",
        ]  # fmt: skip
        read_only_fields = ["next_scan_at", "created_at"]

    def validate_scan_every_hours(self, value):
        if value is not None and value > MAX_SCAN_EVERY_HOURS:
            raise serializers.ValidationError(f"At most {MAX_SCAN_EVERY_HOURS} hours (a year).")
        return value

    def validate_thresholds(self, value):
        try:
            Thresholds.from_mapping(value)
        except (ValueError, TypeError) as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class ScanSerializer(serializers.ModelSerializer):
    class Meta:
        model = CodeScan
        fields = [
            "id", "repository", "status", "trigger", "with_pylint", "commit", "committed_at", "queued_at",
            "started_at", "finished_at", "error", "files", "files_analyzed", "files_reused", "files_failed",
            "functions", "loc", "sloc", "comments", "average_complexity", "worst_complexity", "average_cognitive",
            "average_mi", "debt_count", "debt_minutes", "new_debt", "fixed_debt", "pylint_score", "pylint_error",
            "gate", "gate_reasons",
        ]  # fmt: skip
        read_only_fields = fields


class FileSerializer(serializers.ModelSerializer):
    class Meta:
        model = FileMetrics
        fields = [
            "id", "repository", "path", "content_hash", "error", "loc", "lloc", "sloc", "comments", "multi", "blank",
            "single_comments", "complexity", "complexity_sum", "worst_complexity", "cognitive", "worst_cognitive",
            "mi", "mi_rank", "halstead_volume", "halstead_difficulty", "halstead_effort", "function_count",
            "class_count", "debt_count", "debt_minutes",
        ]  # fmt: skip
        read_only_fields = fields


class FunctionSerializer(serializers.ModelSerializer):
    path = serializers.CharField(source="file.path", read_only=True)

    class Meta:
        model = FunctionMetrics
        fields = [
            "id", "file", "path", "qualname", "kind", "line", "end_line", "length", "complexity", "rank",
            "cognitive", "max_nesting", "parameters", "methods",
        ]  # fmt: skip
        read_only_fields = fields


class DebtItemSerializer(serializers.ModelSerializer):
    last_seen_scan = serializers.IntegerField(
        source="last_seen", read_only=True, help_text="The last scan that saw the item (id)."
    )

    class Meta:
        model = DebtItem
        fields = [
            "id", "repository", "fingerprint", "kind", "rule", "severity", "status", "path", "line", "symbol",
            "message", "remediation_minutes", "first_seen_scan", "last_seen_scan", "fixed_in_scan", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class QualityGateViewSet(viewsets.ModelViewSet):
    queryset = QualityGate.objects.all()
    serializer_class = QualityGateSerializer


class ImportEdgeSerializer(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()


class ImportFanInSerializer(serializers.Serializer):
    module = serializers.CharField()
    imported_by = serializers.IntegerField()


class ExternalImportSerializer(serializers.Serializer):
    package = serializers.CharField(help_text="Top-level module name, e.g. 'requests'.")
    files = serializers.ListField(child=serializers.CharField(), help_text="Files of the repository importing it.")


class ImportGraphSerializer(serializers.Serializer):
    scan = serializers.IntegerField(help_text="The scan the graph comes from.")
    modules = serializers.IntegerField()
    internal_edges = ImportEdgeSerializer(many=True, help_text="Module → module inside the repository (bounded).")
    internal_edges_total = serializers.IntegerField()
    most_imported = ImportFanInSerializer(many=True)
    external = ExternalImportSerializer(many=True, help_text="Packages from outside the repository (not stdlib).")
    stdlib = serializers.ListField(child=serializers.CharField())


class RepositoryViewSet(viewsets.ModelViewSet):
    queryset = CodeRepository.objects.select_related("service")
    serializer_class = RepositorySerializer
    action_roles = {"scan": OPERATOR}

    @extend_schema(
        request=None,
        responses={202: ScanSerializer},
        summary="Queue a scan of this repository now",
        description="While a scan of the repository is queued or running, that scan is returned instead.",
    )
    @action(detail=True, methods=["post"])
    def scan(self, request, pk=None):
        repository = self.get_object()
        with transaction.atomic():
            scan, _ = scan_queue(repository=repository, trigger=CodeScan.Trigger.API)
        return Response(ScanSerializer(scan).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={200: ImportGraphSerializer},
        summary="Module dependency graph of the latest scan",
        description="Internal module edges and external packages with the files importing them. "
        "404 until the repository has a successful scan.",
    )
    @action(detail=True, methods=["get"])
    def imports(self, request, pk=None):
        repository = self.get_object()
        scan = latest_scan(repository)
        if scan is None:
            return Response({"detail": "The repository has no successful scan yet."}, status=status.HTTP_404_NOT_FOUND)
        return Response({"scan": scan.pk, **graph_json(scan_graph(scan))})


class ScanViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = CodeScan.objects.all()
    serializer_class = ScanSerializer
    filterset_class = ScanFilter
    ordering_fields = ["id", "queued_at", "committed_at", "average_mi", "debt_count"]


class FileViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = FileMetrics.objects.all()
    serializer_class = FileSerializer
    filterset_class = FileFilter
    ordering_fields = ["path", "sloc", "mi", "worst_complexity", "debt_count"]


class FunctionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = FunctionMetrics.objects.select_related("file")
    serializer_class = FunctionSerializer
    filterset_class = FunctionFilter
    ordering_fields = ["complexity", "cognitive", "length", "parameters", "max_nesting"]


class DebtItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = with_severity_rank(DebtItem.objects.with_last_seen())
    serializer_class = DebtItemSerializer
    filterset_class = DebtFilter
    filter_backends = [PortalFilterBackend, SeverityOrdering]
    ordering_fields = ["severity", "remediation_minutes", "path", "created_at", "updated_at"]


router.register("codehealth/gates", QualityGateViewSet, basename="codehealth-gate")
router.register("codehealth/repositories", RepositoryViewSet, basename="codehealth-repository")
router.register("codehealth/scans", ScanViewSet, basename="codehealth-scan")
router.register("codehealth/files", FileViewSet, basename="codehealth-file")
router.register("codehealth/functions", FunctionViewSet, basename="codehealth-function")
router.register("codehealth/debt", DebtItemViewSet, basename="codehealth-debt")
