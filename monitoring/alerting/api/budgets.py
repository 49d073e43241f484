"""Performance budgets: people with the operator role set them; each keeps its alert rule."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, viewsets

from monitoring.alerting.budgets import budget_delete, budget_save
from monitoring.alerting.models import PerformanceBudget
from portal.api.router import router
from portal.models import Service
from portal.roles import OPERATOR


class PerformanceBudgetSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    condition = serializers.CharField(source="rule.condition_text", read_only=True, default="")

    class Meta:
        model = PerformanceBudget
        fields = [
            "id", "service", "route", "kind", "limit", "window", "min_requests", "severity", "enabled", "rule",
            "condition",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["rule", "created_at", "updated_at"]
        validators: list = []  # the model's full_clean (in budget_save) checks uniqueness, naming the fields

    def _save(self, budget: PerformanceBudget, data: dict) -> PerformanceBudget:
        for name, value in data.items():
            setattr(budget, name, value)
        try:
            return budget_save(budget=budget, by=self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc

    def create(self, validated_data):
        return self._save(PerformanceBudget(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class PerformanceBudgetViewSet(viewsets.ModelViewSet):
    """Latency, error-rate and web-vital budgets per service and route; a breach is an alert."""

    queryset = PerformanceBudget.objects.select_related("service", "rule__service")
    serializer_class = PerformanceBudgetSerializer
    filterset_fields = {"service__slug": ["exact"], "kind": ["exact"], "enabled": ["exact"]}
    ordering_fields = ["created_at", "route"]
    write_role = OPERATOR

    def perform_destroy(self, instance):
        budget_delete(budget=instance, by=self.request.user)


router.register("budgets", PerformanceBudgetViewSet)
