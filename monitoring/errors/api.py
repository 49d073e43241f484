"""API for error groups: list/detail with the page's filters, one action per transition (the same
lifecycle functions as the pages), merge, and each group's events with cursor pagination.

/api/v1/errors/groups/ — viewers read; operators resolve, ignore, unresolve and merge. Service
keys are refused: a service sends its errors through the Sentry-compatible ingest (sentry/).
"""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from monitoring.errors.lifecycle import (
    TransitionNotAllowed,
    group_ignore,
    group_merge,
    group_resolve,
    group_unresolve,
)
from monitoring.errors.models import ErrorEvent, ErrorGroup, GroupStatus, Level
from monitoring.errors.sentry import api as sentry_api  # noqa: F401  (registers the projects' viewset)
from monitoring.errors.views import MAX_SEARCH, SORTS
from portal.api.filters import BoundedDateTimeFilter, PortalFilterBackend, PortalFilterSet
from portal.api.pagination import TimeCursorPagination
from portal.api.router import router

OPERATOR = "operator"


class ErrorGroupSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ErrorGroup
        fields = [
            "id", "service", "fingerprint", "title", "culprit", "level", "status", "times_seen", "users_affected",
            "first_seen", "last_seen", "first_release", "last_release", "status_changed_at", "merged_into",
        ]  # fmt: skip
        read_only_fields = fields


class ErrorEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ErrorEvent
        fields = [
            "id", "group", "event_id", "time", "received_at", "level", "message", "platform", "logger",
            "transaction", "server_name", "release", "environment", "tags", "user", "request", "exception", "data",
        ]  # fmt: skip
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class MergeSerializer(serializers.Serializer):
    target = serializers.IntegerField(min_value=1, max_value=2**53, help_text="The group that receives this one.")


class EventCursorPagination(TimeCursorPagination):
    ordering = "-time"


class ErrorGroupFilter(PortalFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=GroupStatus.choices, distinct=False)
    level = django_filters.ChoiceFilter(choices=Level.choices)
    service = django_filters.CharFilter(field_name="service__slug", max_length=100)
    release = django_filters.CharFilter(method="filter_release", max_length=200)
    search = django_filters.CharFilter(method="filter_search", max_length=MAX_SEARCH, help_text="In title or culprit.")
    sort = django_filters.ChoiceFilter(
        choices=[(s, s) for s in SORTS], method="filter_sort", help_text="Default last_seen (newest first)."
    )
    seen_since = BoundedDateTimeFilter(field_name="last_seen", lookup_expr="gte")

    class Meta:
        model = ErrorGroup
        fields = ["status", "level", "service", "release", "search", "sort", "seen_since"]

    def filter_release(self, queryset, name, value):
        return queryset.filter(Q(first_release=value) | Q(last_release=value))

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(culprit__icontains=value))

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*SORTS[value])


class ErrorGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Error groups (merged ones left out of the list), newest last-seen first by default."""

    queryset = ErrorGroup.objects.select_related("service").order_by("-last_seen", "-id")
    serializer_class = ErrorGroupSerializer
    filterset_class = ErrorGroupFilter
    filter_backends = [PortalFilterBackend]
    action_roles = {"resolve": OPERATOR, "ignore": OPERATOR, "unresolve": OPERATOR, "merge": OPERATOR}

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.filter(merged_into__isnull=True) if self.action == "list" else queryset

    def _transition(self, request, func):
        group = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            group = func(group=group, by=request.user, via="api", reason=body.validated_data.get("reason", ""))
        except TransitionNotAllowed as exc:
            return Response({"detail": str(exc), "status": exc.group.status}, status=status.HTTP_409_CONFLICT)
        return Response(ErrorGroupSerializer(self.get_queryset().get(pk=group.pk)).data)

    @extend_schema(request=ReasonSerializer, responses={200: ErrorGroupSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._transition(request, group_resolve)

    @extend_schema(request=ReasonSerializer, responses={200: ErrorGroupSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def ignore(self, request, pk=None):
        return self._transition(request, group_ignore)

    @extend_schema(request=ReasonSerializer, responses={200: ErrorGroupSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def unresolve(self, request, pk=None):
        return self._transition(request, group_unresolve)

    @extend_schema(request=MergeSerializer, responses={200: ErrorGroupSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge this group into `target`; answers the target."""
        source = self.get_object()
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target = ErrorGroup.objects.filter(pk=body.validated_data["target"]).first()
        if target is None:
            raise ValidationError({"target": ["No error group with this id."]})
        try:
            target = group_merge(source=source, target=target, by=request.user, via="api")
        except TransitionNotAllowed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(ErrorGroupSerializer(self.get_queryset().get(pk=target.pk)).data)

    @extend_schema(responses={200: ErrorEventSerializer(many=True)})
    @action(
        detail=True,
        methods=["get"],
        pagination_class=EventCursorPagination,
        filter_backends=[],
        serializer_class=ErrorEventSerializer,
    )
    def events(self, request, pk=None):
        """The group's events, newest first (cursor pagination; a merged group's events moved
        to the group it was merged into)."""
        group = self.get_object()
        page = self.paginate_queryset(ErrorEvent.objects.filter(group=group))
        return self.get_paginated_response(ErrorEventSerializer(page, many=True).data)


router.register("errors/groups", ErrorGroupViewSet)
