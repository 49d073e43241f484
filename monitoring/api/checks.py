"""`/api/v1/health-checks/` (admins write, viewers read; operators may run one now) and
`/api/v1/health-check-results/` (read-only history, cursor-paginated)."""

from copy import copy

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from monitoring.healthchecks.masking import config_masked, config_unmasked
from monitoring.healthchecks.runner import health_check_run
from monitoring.models import HealthCheck, HealthCheckResult
from monitoring.models.checks import CONFIG_FIELDS, SCHEDULE_FIELDS, STATE_FIELDS
from portal.api.pagination import TimeCursorPagination
from portal.api.router import router
from portal.models import Service


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ConfigField(serializers.JSONField):
    """The model judges what is in it (`HealthCheck.config_errors`); the schema says it is an object."""


class HealthCheckSerializer(serializers.ModelSerializer):
    config = ConfigField(required=False, help_text="Kind-specific settings; see the docs.")
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    ping_url = serializers.SerializerMethodField(help_text="For heartbeats: GET/POST here, or /start and /fail.")

    class Meta:
        model = HealthCheck
        fields = ["id", "uuid", *CONFIG_FIELDS, "ping_url", *STATE_FIELDS, "created_at"]
        read_only_fields = ["uuid", *STATE_FIELDS, "created_at"]
        # Empty until the first run: the schema has to allow "" besides the statuses.
        extra_kwargs = {"last_status": {"allow_blank": True}}

    def get_ping_url(self, obj) -> str | None:
        if obj.kind != "heartbeat":
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(obj.ping_path) if request else obj.ping_path

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["config"] = config_masked(data.get("config"))
        return data

    def validate(self, attrs):
        if "config" in attrs and self.instance is not None and isinstance(attrs["config"], dict):
            attrs["config"] = config_unmasked(attrs["config"], self.instance.config)
        # The model judges the kind's settings (`HealthCheck.config_errors`); here they are only shown.
        check = copy(self.instance) if self.instance is not None else HealthCheck()
        for name in ("kind", "config", "period_seconds", "cron", "service"):  # what a kind may judge
            if name in attrs:
                setattr(check, name, attrs[name])
        if check.config is None:
            check.config = {}
        errors = check.config_errors()
        if errors:
            shown = {name: [errors.pop(name)] for name in SCHEDULE_FIELDS if name in errors}
            if not isinstance(check.config, dict):
                shown["config"] = [errors.pop("config")]
            elif errors:
                shown["config"] = _nested(errors)
            raise serializers.ValidationError(shown)
        return attrs


def _nested(errors: dict[str, str]) -> dict:
    """{"params.seconds": msg} → {"params": {"seconds": [msg]}}: the error names the field
    as `config.params.seconds`, the way DRF nests errors of nested objects."""
    tree: dict = {}
    for key, message in errors.items():
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = [message]
    return tree


class HealthCheckResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = HealthCheckResult
        fields = ["id", "health_check", "status", "latency_ms", "message", "created_at"]
        read_only_fields = fields


class HealthCheckRunSerializer(HealthCheckResultSerializer):
    id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The stored result; null when the status did not change."
    )


class HealthCheckViewSet(viewsets.ModelViewSet):
    queryset = HealthCheck.objects.select_related("service")
    serializer_class = HealthCheckSerializer
    filterset_fields = {
        "service__slug": ["exact"],
        "kind": ["exact"],
        "critical": ["exact"],
        "enabled": ["exact"],
        "last_status": ["exact"],
    }
    ordering_fields = ["name", "last_checked_at", "last_status"]
    action_roles = {"run": "operator"}

    def perform_update(self, serializer):
        # Due at the next sweep: a shorter interval or a fixed config should not wait out the old one.
        serializer.save(next_run_at=None)

    @extend_schema(request=None, responses={200: HealthCheckRunSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Run the check now (waits up to its timeout) and return its outcome. Results are stored
        when the status changes: `id` is that result's, or null when the status stayed the same
        (the check's `last_*` fields always show the latest run)."""
        result = health_check_run(check=self.get_object())
        return Response(HealthCheckRunSerializer(result).data)


class HealthCheckResultViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = HealthCheckResult.objects.all()
    serializer_class = HealthCheckResultSerializer
    pagination_class = TimeCursorPagination
    filterset_fields = {"health_check": ["exact"], "status": ["exact"], "created_at": ["gte", "lt"]}
    ordering_fields = None


router.register("health-checks", HealthCheckViewSet)
router.register("health-check-results", HealthCheckResultViewSet)
