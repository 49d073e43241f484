"""Maintenance API: environments, tasks, runs and a summary.

Viewers read; admins write environments and tasks; operators run tasks now and approve or
reject plans. Validation lives in the models' clean() (shared with the admin form): the
serializers call it and turn its errors into 400s naming the field.
"""

import copy

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from maintenance.models import Environment, MaintenanceRun, MaintenanceTask, RunStatus
from maintenance.runner import REASON_MAX, RunRefused, run_approve, run_cancel, run_queue, run_reject
from maintenance.schedules import task_next_runs
from maintenance.summary import DAYS_MAX, maintenance_summary, with_last_run
from portal.api.filters import BoundedDateTimeFilter, IdFilter, PortalFilterSet, QueryParamsSerializer
from portal.api.router import router
from portal.api.schema import PortalAutoSchema
from portal.roles import OPERATOR


def _clean(instance) -> None:
    """Run the model's clean() and answer its errors as DRF's, keyed by field."""
    try:
        instance.clean()
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None


class EnvironmentSerializer(serializers.ModelSerializer):
    package_manager_detected = serializers.SerializerMethodField(
        help_text="The package manager in use: the chosen one, or the one the project files show."
    )

    class Meta:
        model = Environment
        fields = [
            "id", "name", "python", "project_dir", "package_manager", "package_manager_detected", "service",
            "repository", "cleanup_roots", "verify_command", "health_checks", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def get_package_manager_detected(self, obj) -> str:
        return obj.package_manager_resolved()

    def validate(self, attrs):
        _clean(_probe(Environment, self.instance, attrs))
        return attrs


def _probe(model, instance, attrs):
    """An unsaved copy of the instance (or a new one) with the request's values, to validate the
    whole as it would be saved (a PATCH of one field is checked against the others)."""
    probe = copy.copy(instance) if instance is not None else model()
    for name, value in attrs.items():
        if not model._meta.get_field(name).many_to_many:
            setattr(probe, name, value)
    return probe


class MaintenanceLastRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "03:00"})
class ClockField(serializers.TimeField):
    """A time of day as HH:MM. Schedules have minute resolution, and a bare time is no RFC 3339
    `time` (which needs a zone); the zone is the portal's."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)


class MaintenanceTaskSerializer(serializers.ModelSerializer):
    time_of_day = ClockField(required=False, help_text="HH:MM in the portal's time zone (daily, weekly, monthly).")
    schedule_words = serializers.SerializerMethodField(help_text="The schedule in words.")
    next_runs = serializers.SerializerMethodField(help_text="The next three run times (none when not scheduled).")
    last_run = serializers.SerializerMethodField()
    requires_approval = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="null: the kind's default (dependency updates, cleanups and refactors need approval; "
        "security audits and scaling checks do not).",
    )
    approval_needed = serializers.BooleanField(
        read_only=True, help_text="Whether a run waits for an operator: requires_approval, else the kind's default."
    )

    class Meta:
        model = MaintenanceTask
        fields = [
            "id", "kind", "title", "description", "status", "priority", "due_at", "source", "source_ref",
            "closed_at", "created_at", "updated_at", "environment", "schedule", "cron", "time_of_day", "weekday",
            "day_of_month", "schedule_words", "next_runs", "config", "requires_approval", "approval_needed", "assignee",
            "enabled", "timeout_seconds", "last_run",
        ]  # fmt: skip
        read_only_fields = ["source", "source_ref", "closed_at", "created_at", "updated_at"]

    def get_schedule_words(self, obj) -> str:
        return obj.schedule_in_words()

    def get_next_runs(self, obj) -> list[str]:
        return [moment.isoformat() for moment in task_next_runs(obj)]

    @extend_schema_field(MaintenanceLastRunSerializer(allow_null=True))
    def get_last_run(self, obj):
        if hasattr(obj, "last_run_id"):  # annotated by the viewset: no query per row
            if obj.last_run_id is None:
                return None
            return {"id": obj.last_run_id, "status": obj.last_run_status, "finished_at": obj.last_run_finished_at}
        run = obj.runs.order_by("-created_at", "-id").values("id", "status", "finished_at").first()
        return run

    def validate(self, attrs):
        _clean(_probe(MaintenanceTask, self.instance, attrs))
        return attrs

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
    schedule = django_filters.ChoiceFilter(choices=MaintenanceTask.Schedule.choices)
    environment = IdFilter(field_name="environment")
    enabled = django_filters.BooleanFilter()
    source = django_filters.CharFilter()
    due_before = BoundedDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = MaintenanceTask
        fields = ["kind", "status", "priority", "schedule", "environment", "enabled", "source", "due_before"]


class MaintenanceRunNowSerializer(serializers.Serializer):
    plan_only = serializers.BooleanField(
        default=False, help_text="Only plan: the run ends after the plan, whatever the approval setting."
    )


class MaintenanceRunSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="task.kind", read_only=True)
    environment = serializers.IntegerField(source="task.environment_id", read_only=True, allow_null=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = MaintenanceRun
        fields = [
            "id", "task", "kind", "environment", "trigger", "status", "requested_by", "plan_only", "plan",
            "decision", "decided_by", "decided_at", "created_at", "started_at", "finished_at", "duration_seconds",
            "summary", "changes", "log", "claimed_by", "heartbeat_at", "deadline_at",
        ]  # fmt: skip
        read_only_fields = fields


class MaintenanceRunListSerializer(MaintenanceRunSerializer):
    """The list leaves out the log and the plan's items (up to 64 KB each run)."""

    class Meta(MaintenanceRunSerializer.Meta):
        fields = [f for f in MaintenanceRunSerializer.Meta.fields if f not in ("log", "plan")]
        read_only_fields = fields


CONFLICT = inline_serializer("MaintenanceConflict", {"detail": serializers.CharField()})


class MaintenanceTaskViewSet(viewsets.ModelViewSet):
    queryset = MaintenanceTask.objects.all()
    serializer_class = MaintenanceTaskSerializer
    filterset_class = MaintenanceTaskFilter
    ordering_fields = ["due_at", "priority", "created_at"]
    action_roles = {"run": OPERATOR}

    def get_queryset(self):
        return with_last_run(super().get_queryset())

    def perform_destroy(self, instance):
        # Runs go with the task (their history is the task's); environments are protected instead.
        instance.delete()

    @extend_schema(
        request=MaintenanceRunNowSerializer,
        responses={202: MaintenanceRunSerializer, 409: CONFLICT},
        summary="Run this task now",
        description="Queues a run for the workers. 409 while another run of the task is queued or running, "
        "and for refactor tasks (done by people).",
    )
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        task = self.get_object()
        params = MaintenanceRunNowSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            run = run_queue(
                task=task,
                trigger=MaintenanceRun.Trigger.MANUAL,
                by=request.user,
                plan_only=params.validated_data["plan_only"],
            )
        except RunRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(MaintenanceRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class MaintenanceRunFilter(PortalFilterSet):
    task = IdFilter(field_name="task")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    kind = django_filters.ChoiceFilter(field_name="task__kind", choices=MaintenanceTask.Kind.choices)
    environment = IdFilter(field_name="task__environment")
    trigger = django_filters.ChoiceFilter(choices=MaintenanceRun.Trigger.choices)
    since = BoundedDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = BoundedDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = MaintenanceRun
        fields = ["task", "status", "kind", "environment", "trigger", "since", "until"]


DECIDE = {
    "request": None,
    "responses": {200: MaintenanceRunSerializer, 409: CONFLICT},
    "description": "Only a run waiting for approval can be decided; otherwise 409.",
}


class MaintenanceRunCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX, help_text="Kept in the run's log."
    )


class MaintenanceRunViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = MaintenanceRun.objects.select_related("task", "requested_by", "decided_by")
    filterset_class = MaintenanceRunFilter
    ordering_fields = ["created_at", "finished_at"]
    action_roles = {"approve": OPERATOR, "reject": OPERATOR, "cancel": OPERATOR}

    def get_serializer_class(self):
        return MaintenanceRunListSerializer if self.action == "list" else MaintenanceRunSerializer

    def _decide(self, decide):
        run = self.get_object()
        try:
            run = decide(run=run, by=self.request.user)
        except RunRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(MaintenanceRunSerializer(run).data)

    @extend_schema(summary="Approve the run's plan: a worker applies it", **DECIDE)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(run_approve)

    @extend_schema(summary="Reject the run's plan: the run is cancelled", **DECIDE)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(run_reject)

    @extend_schema(
        request=MaintenanceRunCancelSerializer,
        responses={200: MaintenanceRunSerializer, 409: CONFLICT},
        summary="Cancel a queued run or one waiting for approval",
        description="No worker runs a cancelled run. 409 when the run is running or has ended.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        run = self.get_object()
        params = MaintenanceRunCancelSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            run = run_cancel(run=run, by=request.user, reason=params.validated_data["reason"])
        except RunRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(MaintenanceRunSerializer(run).data)


class SummaryParams(QueryParamsSerializer):
    days = serializers.IntegerField(default=30, min_value=1, max_value=DAYS_MAX, help_text="UTC days, today included.")


class MaintenanceSummarySerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    days = inline_serializer(
        "MaintenanceSummaryDay",
        {"day": serializers.DateField(), "statuses": serializers.DictField(child=serializers.IntegerField())},
        many=True,
    )
    runs_by_status = serializers.DictField(child=serializers.IntegerField())
    bytes_freed = serializers.IntegerField()
    files_removed = serializers.IntegerField()
    packages_updated = serializers.IntegerField()
    open_vulnerabilities = serializers.IntegerField()
    incomplete_audits = serializers.IntegerField(
        help_text="Environments whose latest audit could not check everything."
    )


class _OneObjectSchema(PortalAutoSchema):
    # The summary is one object although DRF calls its GET `list`.
    def _is_list_view(self, serializer=None):
        return False


class MaintenanceSummaryViewSet(viewsets.GenericViewSet):
    schema = _OneObjectSchema()
    serializer_class = MaintenanceSummarySerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        parameters=[SummaryParams],
        responses={200: MaintenanceSummarySerializer},
        summary="Runs by status per day, bytes freed, packages updated, open vulnerabilities",
    )
    def list(self, request):
        params = SummaryParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(MaintenanceSummarySerializer(maintenance_summary(days=params.validated_data["days"])).data)


class EnvironmentViewSet(viewsets.ModelViewSet):
    queryset = Environment.objects.prefetch_related("health_checks")
    serializer_class = EnvironmentSerializer
    filterset_fields = ["service", "repository", "package_manager"]

    @extend_schema(
        responses={204: None, 409: inline_serializer("EnvironmentInUse", {"detail": serializers.CharField()})}
    )
    def destroy(self, request, *args, **kwargs):
        environment = self.get_object()
        try:
            environment.delete()
        except ProtectedError:
            # Its tasks (and their run history) would go with it: they are deleted or moved first.
            names = ", ".join(sorted(environment.tasks.values_list("title", flat=True)[:5]))
            return Response(
                {"detail": f"Tasks use this environment ({names}); delete them or move them to another first."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


router.register("maintenance/environments", EnvironmentViewSet, basename="maintenance-environment")
router.register("maintenance/tasks", MaintenanceTaskViewSet, basename="maintenance-task")
router.register("maintenance/runs", MaintenanceRunViewSet, basename="maintenance-run")
router.register("maintenance/summary", MaintenanceSummaryViewSet, basename="maintenance-summary")
