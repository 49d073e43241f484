"""Filters shared by the API and the pages."""

import django_filters
from django.db.models import Case, IntegerField, Value, When
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


class FileFilter(PortalFilterSet):
    repository = IdFilter(field_name="repository_id")
    scan = IdFilter(field_name="scan_files__scan_id", help_text="Files of this scan.")
    path = django_filters.CharFilter(lookup_expr="startswith", help_text="Path prefix.")
    mi_rank = django_filters.CharFilter()

    class Meta:
        model = FileMetrics
        fields = ["repository", "scan", "path", "mi_rank"]


class FunctionFilter(PortalFilterSet):
    file = IdFilter(field_name="file_id")
    scan = IdFilter(field_name="file__scan_files__scan_id", help_text="Functions of this scan.")
    repository = IdFilter(field_name="file__repository_id")
    kind = django_filters.ChoiceFilter(choices=FunctionMetrics.Kind.choices)
    rank = django_filters.CharFilter()
    min_complexity = WholeNumberFilter(field_name="complexity", lookup_expr="gte")
    min_cognitive = WholeNumberFilter(field_name="cognitive", lookup_expr="gte")

    class Meta:
        model = FunctionMetrics
        fields = ["file", "scan", "repository", "kind", "rank", "min_complexity", "min_cognitive"]


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
