"""Alerts and their events: history with filters and cursor pagination, and one action per
transition (each calls the same service function as the pages, admin and email links)."""

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from monitoring.alerting.api.config import DeliverySerializer
from monitoring.alerting.lifecycle import (
    TransitionNotAllowed,
    alert_acknowledge,
    alert_comment,
    alert_reopen,
    alert_resolve,
    alert_unacknowledge,
)
from monitoring.alerting.models import Alert, AlertEvent, AlertStatus, Delivery, RuleState
from portal.api.filters import BoundedDateTimeFilter, IdFilter, PortalFilterBackend, PortalFilterSet
from portal.api.pagination import TimeCursorPagination
from portal.api.router import router


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True, default=None, allow_null=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    acknowledged_by = serializers.StringRelatedField(allow_null=True)
    resolved_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = Alert
        fields = [
            "id", "rule", "rule_name", "fingerprint", "labels", "service", "severity", "summary", "description",
            "status", "value", "created_at", "acknowledged_at", "acknowledged_by", "first_acknowledged_at",
            "resolved_at", "resolved_by", "escalation_step", "next_escalation_at", "suppressed_until",
        ]  # fmt: skip
        read_only_fields = fields


class AlertEventSerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField(allow_null=True, help_text="Empty for the system (evaluations, sweeps).")

    class Meta:
        model = AlertEvent
        fields = ["id", "alert", "kind", "created_at", "actor", "value", "message", "details"]
        read_only_fields = fields


class RuleStateSerializer(serializers.ModelSerializer):
    pending = serializers.SerializerMethodField(help_text="Condition true, `for` not elapsed yet.")
    fires_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = RuleState
        fields = ["id", "rule", "fingerprint", "labels", "active_since", "value", "changed_at", "pending", "fires_at"]
        read_only_fields = fields

    def get_pending(self, obj) -> bool:
        return obj.is_pending(timezone.now())


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)


class ActionSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AlertFilter(PortalFilterSet):
    # distinct=False: a column of the alert itself cannot repeat rows, and SELECT DISTINCT over
    # every column made SQLite de-duplicate all resolved alerts for each page.
    status = django_filters.MultipleChoiceFilter(choices=AlertStatus.choices, distinct=False)
    severity = django_filters.CharFilter()
    rule = IdFilter(field_name="rule_id")
    service = django_filters.CharFilter(field_name="service__slug")
    since = BoundedDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = BoundedDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["status", "severity", "rule", "service", "since", "until"]


class AlertEventFilter(PortalFilterSet):
    alert = IdFilter(field_name="alert_id")
    kind = django_filters.CharFilter()
    rule = IdFilter(field_name="alert__rule_id")
    service = django_filters.CharFilter(field_name="alert__service__slug")
    since = BoundedDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = BoundedDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AlertEvent
        fields = ["alert", "kind", "rule", "service", "since", "until"]


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts, newest first. Filters: status (repeatable), severity, rule, service, since/until."""

    queryset = Alert.objects.select_related("rule", "service", "acknowledged_by", "resolved_by")
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    pagination_class = TimeCursorPagination
    ordering_fields = None  # cursor pagination owns the ordering
    filter_backends = [PortalFilterBackend]
    action_roles = {
        "acknowledge": "operator",
        "unacknowledge": "operator",
        "resolve": "operator",
        "reopen": "operator",
        "comment": "operator",
    }

    def _transition(self, request, func):
        alert = self.get_object()
        body = ActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alert = func(alert=alert, by=request.user, via="api", reason=body.validated_data.get("message"))
        except TransitionNotAllowed as exc:
            return Response({"detail": str(exc), "status": exc.alert.status}, status=status.HTTP_409_CONFLICT)
        return Response(AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(request=ActionSerializer, responses={200: AlertSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._transition(request, alert_acknowledge)

    @extend_schema(request=ActionSerializer, responses={200: AlertSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def unacknowledge(self, request, pk=None):
        return self._transition(request, alert_unacknowledge)

    @extend_schema(request=ActionSerializer, responses={200: AlertSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._transition(request, alert_resolve)

    @extend_schema(request=ActionSerializer, responses={200: AlertSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._transition(request, alert_reopen)

    @extend_schema(request=CommentSerializer, responses={201: AlertEventSerializer})
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        alert = self.get_object()
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            event = alert_comment(alert=alert, by=request.user, via="api", text=body.validated_data["text"])
        except ValueError as exc:
            return Response({"text": [str(exc).split(": ", 1)[-1]]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(AlertEventSerializer(event).data, status=status.HTTP_201_CREATED)


class AlertEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The audit trail of every alert, newest first (cursor pagination)."""

    queryset = AlertEvent.objects.select_related("actor")
    serializer_class = AlertEventSerializer
    filterset_class = AlertEventFilter
    pagination_class = TimeCursorPagination
    filter_backends = [PortalFilterBackend]


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Delivery.objects.select_related("channel", "user")
    serializer_class = DeliverySerializer
    filterset_fields = {"alert": ["exact"], "channel": ["exact"], "status": ["exact"], "event": ["exact"]}
    pagination_class = TimeCursorPagination
    filter_backends = [PortalFilterBackend]


class RuleStateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Where each label set of each rule stands: `active_since` set means the condition holds."""

    queryset = RuleState.objects.select_related("rule").order_by("rule_id", "id")
    serializer_class = RuleStateSerializer
    filterset_fields = {"rule": ["exact"], "active_since": ["isnull"]}


router.register("alerts", AlertViewSet)
router.register("alert-events", AlertEventViewSet)
router.register("alert-deliveries", DeliveryViewSet)
router.register("alert-rule-states", RuleStateViewSet)
