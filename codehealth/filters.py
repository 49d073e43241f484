"""Filters shared by the API and the pages."""

import django_filters
from django.db.models import Case, IntegerField, Subquery, Value, When
from django.db.models.functions import Coalesce
from rest_framework.filters import OrderingFilter

from codehealth.models import SEVERITY_RANK, CodeScan, DebtItem, DebtKind, FileMetrics, FunctionMetrics, Severity
from portal.api.filters import IdFilter, PortalFilterSet, WholeNumberFilter


class ScanFilter(PortalFilterSet):
    repository = IdFilter(field_name="repository_id")
    status = django_filters.ChoiceFilter(choices=CodeScan.Status.choices)
    trigger = django_filters.ChoiceFilter(choices=CodeScan.Trigger.choices)
    gate = django_filters.ChoiceFilter(choices=CodeScan.Gate.choices)

    class Meta:
        model = CodeScan
        fields = ["repository", "status", "trigger", "gate"]


def _files_scan(scan_id: int):
    """The scan whose file links list scan `scan_id`'s files: itself, or the one an unchanged
    re-scan took over (CodeScan.same_as), as a subquery."""
    return Coalesce(Subquery(CodeScan.objects.filter(pk=scan_id).values("same_as")[:1]), Value(scan_id))


class FileFilter(PortalFilterSet):
    repository = IdFilter(field_name="repository_id")
    scan = IdFilter(method="filter_scan", help_text="Files of this scan.")
    path = django_filters.CharFilter(lookup_expr="startswith", help_text="Path prefix.")
    mi_rank = django_filters.CharFilter()

    class Meta:
        model = FileMetrics
        fields = ["repository", "scan", "path", "mi_rank"]

    def filter_scan(self, queryset, name, value):
        return queryset.filter(scan_files__scan_id=_files_scan(value))


class FunctionFilter(PortalFilterSet):
    file = IdFilter(field_name="file_id")
    scan = IdFilter(method="filter_scan", help_text="Functions of this scan.")
    repository = IdFilter(field_name="file__repository_id")
    kind = django_filters.ChoiceFilter(choices=FunctionMetrics.Kind.choices)
    rank = django_filters.CharFilter()
    min_complexity = WholeNumberFilter(field_name="complexity", lookup_expr="gte")
    min_cognitive = WholeNumberFilter(field_name="cognitive", lookup_expr="gte")

    class Meta:
        model = FunctionMetrics
        fields = ["file", "scan", "repository", "kind", "rank", "min_complexity", "min_cognitive"]

    def filter_scan(self, queryset, name, value):
        return queryset.filter(file__scan_files__scan_id=_files_scan(value))


class DebtFilter(PortalFilterSet):
    repository = IdFilter(field_name="repository_id")
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    kind = django_filters.MultipleChoiceFilter(choices=DebtKind.choices)
    status = django_filters.ChoiceFilter(choices=DebtItem.Status.choices)
    path = django_filters.CharFilter(lookup_expr="startswith", help_text="Path prefix.")
    rule = django_filters.CharFilter()

    class Meta:
        model = DebtItem
        fields = ["repository", "severity", "kind", "status", "path", "rule"]


def with_severity_rank(queryset):
    return queryset.annotate(
        severity_rank=Case(
            *(When(severity=severity, then=Value(rank)) for severity, rank in SEVERITY_RANK.items()),
            output_field=IntegerField(),
        )
    )


class SeverityOrdering(OrderingFilter):
    """`ordering=severity` sorts low < medium < high < critical, not alphabetically."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        ranked = {"severity": "severity_rank", "-severity": "-severity_rank"}
        return [ranked.get(field, field) for field in ordering] if ordering else ordering
