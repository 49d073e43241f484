"""Maintenance tasks: viewers read, admins write (runs and executors come later)."""

import django_filters
from django.utils import timezone
from rest_framework import serializers, viewsets

from maintenance.models import MaintenanceTask
from portal.api.filters import BoundedDateTimeFilter, PortalFilterSet
from portal.api.router import router


class MaintenanceTaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = MaintenanceTask
        fields = [
            "id", "kind", "title", "description", "status", "priority", "due_at", "source", "source_ref",
            "closed_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["source", "source_ref", "closed_at", "created_at", "updated_at"]

    def create(self, validated_data):
        now = timezone.now()
        return super().create({**validated_data, "created_at": now, "updated_at": now})

    def update(self, instance, validated_data):
        now = timezone.now()
        validated_data["updated_at"] = now
        if "status" in validated_data and validated_data["status"] != instance.status:
            validated_data.update(MaintenanceTask.status_fields(validated_data["status"], now=now))
        return super().update(instance, validated_data)


class MaintenanceTaskFilter(PortalFilterSet):
    kind = django_filters.ChoiceFilter(choices=MaintenanceTask.Kind.choices)
    status = django_filters.ChoiceFilter(choices=MaintenanceTask.Status.choices)
    priority = django_filters.ChoiceFilter(choices=MaintenanceTask.Priority.choices)
    source = django_filters.CharFilter()
    due_before = BoundedDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = MaintenanceTask
        fields = ["kind", "status", "priority", "source", "due_before"]


class MaintenanceTaskViewSet(viewsets.ModelViewSet):
    queryset = MaintenanceTask.objects.all()
    serializer_class = MaintenanceTaskSerializer
    filterset_class = MaintenanceTaskFilter
    ordering_fields = ["due_at", "priority", "created_at"]


router.register("maintenance/tasks", MaintenanceTaskViewSet, basename="maintenance-task")
