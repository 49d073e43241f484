"""CRUD for what admins configure: rules, channels, escalation policies, silences, windows."""

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from monitoring.alerting.conditions import MAX_GROUP_BY, MatcherError, parse_group_by, parse_matchers
from monitoring.alerting.models import (
    MAX_STEPS,
    AlertRule,
    Channel,
    ChannelKind,
    Delivery,
    EscalationPolicy,
    EscalationStep,
    MaintenanceWindow,
    PerformanceBudget,
    Silence,
)
from monitoring.alerting.notify import channel_test
from monitoring.alerting.rules import rule_delete, rule_disable
from monitoring.alerting.silences import silence_changed, silence_create, silence_delete, silence_expire
from monitoring.alerting.suppression import holds_recheck
from monitoring.alerting.transports import transport_class
from portal.api.router import router
from portal.models import Service


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class LabelsField(serializers.JSONField):
    """Checked by the model's validator; the schema says its shape (a JSONField documents nothing)."""


ADDRESS = {
    "oneOf": [
        {"type": "string", "format": "email"},
        {
            "type": "object",
            "properties": {"address": {"type": "string", "format": "email"}, "ack": {"type": "boolean"}},
            "required": ["address"],
            "additionalProperties": False,
        },
    ]
}


@extend_schema_field({"type": "array", "items": ADDRESS})
class AddressesField(serializers.JSONField):
    pass


class MatcherSerializer(serializers.Serializer):
    label = serializers.CharField()
    op = serializers.ChoiceField(choices=["=", "!=", "=~", "!~"], default="=")
    value = serializers.CharField(allow_blank=True)


def _matchers(value):
    value = [dict(item) for item in value]
    try:
        parse_matchers(value)
    except MatcherError as exc:
        raise serializers.ValidationError(str(exc)) from exc
    return value


def _model_clean(instance, attrs: dict, exclude_m2m: tuple = ()) -> None:
    """Run the model's own clean() so the API and the admin refuse the same things.
    On a copy: the view still needs the stored values (e.g. was the rule enabled?)."""
    instance = copy.copy(instance)
    for name, value in attrs.items():
        if name not in exclude_m2m:
            setattr(instance, name, value)
    try:
        instance.clean()
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc


GROUP_BY_HELP = AlertRule._meta.get_field("group_by").help_text
RATIO_HELP = AlertRule._meta.get_field("ratio_matchers").help_text


class AlertRuleSerializer(serializers.ModelSerializer):
    matchers = MatcherSerializer(many=True, required=False)
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    condition = serializers.CharField(source="condition_text", read_only=True)
    labels = LabelsField(required=False)
    group_by = serializers.ListField(
        child=serializers.CharField(), required=False, max_length=MAX_GROUP_BY, help_text=GROUP_BY_HELP
    )
    ratio_matchers = MatcherSerializer(many=True, required=False, help_text=RATIO_HELP)

    class Meta:
        model = AlertRule
        fields = [
            "id", "name", "description", "source", "metric", "matchers", "service", "aggregation", "group_by",
            "ratio_matchers", "window", "min_count", "horizon", "comparison", "threshold", "for_duration", "severity",
            "labels",
            "summary",
            "annotation",
            "escalation_policy", "channels", "enabled", "builtin", "condition", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["builtin", "created_at", "updated_at"]

    def validate_matchers(self, value):
        return _matchers(value)

    def validate_ratio_matchers(self, value):
        return _matchers(value)

    def validate_group_by(self, value):
        try:
            return list(parse_group_by(value))
        except MatcherError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate_labels(self, value):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise serializers.ValidationError('Expected an object of strings, e.g. {"team": "payments"}.')
        return value

    def validate(self, attrs):
        if self.instance is not None and PerformanceBudget.objects.filter(rule=self.instance).exists():
            raise serializers.ValidationError("This rule belongs to a performance budget: change the budget.")
        _model_clean(self.instance or AlertRule(), dict(attrs), exclude_m2m=("channels",))
        return attrs


class ChannelSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="Write-only: never returned."
    )
    has_secret = serializers.BooleanField(read_only=True)
    # The URL is write-only too: webhook services often put their token in the path or query.
    url = serializers.URLField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Webhook target URL. Write-only: only `url_host` is returned; blank on update keeps it.",
    )
    url_host = serializers.CharField(read_only=True, help_text="Host (and port) of the webhook URL.")
    is_broken = serializers.BooleanField(read_only=True)
    addresses = AddressesField(
        required=False,
        help_text='Extra email addresses (email channels): "ops@example.com" or {"address": "…", "ack": false}.',
    )

    class Meta:
        model = Channel
        fields = [
            "id", "name", "kind", "enabled", "addresses", "users", "groups", "url", "url_host", "secret",
            "has_secret", "is_broken", "last_error", "last_error_at", "last_success_at", "created_at",
        ]  # fmt: skip
        read_only_fields = ["last_error", "last_error_at", "last_success_at", "created_at"]

    def validate_addresses(self, value):
        # Email addresses whatever the kind (a webhook channel kept `5` or "a@b" until it became
        # an email channel); the email transport says what an entry may be.
        errors = transport_class(ChannelKind.EMAIL).config_errors(url="", secret="", addresses=value)
        if errors:
            raise serializers.ValidationError(errors["addresses"])
        return value

    def validate(self, attrs):
        current = self.instance
        kind = attrs.get("kind", current.kind if current else "")
        secret = attrs.get("secret", current.secret if current else "")
        if current is not None and "secret" in attrs and attrs["secret"] == "":
            attrs.pop("secret")  # blank on update means "keep the stored secret"
            secret = current.secret
        if current is not None and attrs.get("url") == "":
            attrs.pop("url")  # like the secret: blank keeps the stored URL
        url = attrs.get("url", current.url if current else "")
        addresses = attrs.get("addresses", current.addresses if current else [])
        errors = transport_class(kind).config_errors(url=url, secret=secret, addresses=addresses)
        if errors:
            raise serializers.ValidationError({k: [v] for k, v in errors.items()})
        return attrs


class DeliverySerializer(serializers.ModelSerializer):
    target = serializers.CharField(source="target_name", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "alert", "channel", "user", "target", "event", "step", "status", "attempts", "next_attempt_at",
            "last_error", "sent_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class EscalationStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = EscalationStep
        fields = ["order", "wait_minutes", "channels", "users"]


class EscalationPolicySerializer(serializers.ModelSerializer):
    steps = EscalationStepSerializer(many=True, required=False, max_length=MAX_STEPS)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "repeat", "repeat_after_minutes", "steps"]

    def _save_steps(self, policy, steps):
        policy.steps.all().delete()
        for index, data in enumerate(sorted(steps, key=lambda s: s.get("order", 0))):
            channels, users = data.pop("channels", []), data.pop("users", [])
            step = EscalationStep.objects.create(policy=policy, **{**data, "order": data.get("order", index)})
            step.channels.set(channels)
            step.users.set(users)

    @transaction.atomic
    def create(self, validated_data):
        steps = validated_data.pop("steps", [])
        policy = EscalationPolicy.objects.create(**validated_data)
        self._save_steps(policy, steps)
        return policy

    @transaction.atomic
    def update(self, instance, validated_data):
        steps = validated_data.pop("steps", None)
        instance = super().update(instance, validated_data)
        if steps is not None:  # steps given: they replace the old ones
            self._save_steps(instance, steps)
        return instance


class SilenceSerializer(serializers.ModelSerializer):
    matchers = MatcherSerializer(many=True, required=False)
    author = serializers.StringRelatedField(read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = Silence
        fields = ["id", "rule", "matchers", "starts_at", "ends_at", "author", "reason", "active", "created_at"]
        read_only_fields = ["author", "created_at"]

    def validate_matchers(self, value):
        return _matchers(value)

    def get_active(self, obj) -> bool:
        return obj.is_active(timezone.now())

    def validate(self, attrs):
        _model_clean(self.instance or Silence(), dict(attrs))
        return attrs

    def create(self, validated_data):
        request = self.context["request"]
        return silence_create(author=request.user, **validated_data)


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id", "name", "service", "starts_at", "ends_at", "cron", "duration", "reason", "created_by",
            "created_at",
        ]  # fmt: skip
        read_only_fields = ["created_by", "created_at"]

    def validate(self, attrs):
        _model_clean(self.instance or MaintenanceWindow(), dict(attrs))
        return attrs

    def create(self, validated_data):
        return super().create({**validated_data, "created_by": self.context["request"].user})


class AlertRuleViewSet(viewsets.ModelViewSet):
    queryset = AlertRule.objects.select_related("service").prefetch_related("channels")
    serializer_class = AlertRuleSerializer
    filterset_fields = {"enabled": ["exact"], "metric": ["exact"], "severity": ["exact"], "service__slug": ["exact"]}
    ordering_fields = ["name", "created_at"]

    def perform_update(self, serializer):
        was_enabled = serializer.instance.enabled
        with transaction.atomic():
            rule = serializer.save()
            if was_enabled and not rule.enabled:
                rule_disable(rule=rule, by=self.request.user, via="api")

    def perform_destroy(self, instance):
        rule_delete(rule=instance, by=self.request.user, via="api")


class ChannelViewSet(viewsets.ModelViewSet):
    queryset = Channel.objects.prefetch_related("users", "groups")
    serializer_class = ChannelSerializer
    filterset_fields = ["kind", "enabled"]

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a test notification through this channel (queued like any delivery)."""
        delivery = channel_test(channel=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class EscalationPolicyViewSet(viewsets.ModelViewSet):
    queryset = EscalationPolicy.objects.prefetch_related("steps__channels", "steps__users")
    serializer_class = EscalationPolicySerializer


class SilenceViewSet(viewsets.ModelViewSet):
    """Operators create and end silences; changing or deleting one is for admins."""

    queryset = Silence.objects.select_related("author", "rule")
    serializer_class = SilenceSerializer
    filterset_fields = {"rule": ["exact"], "ends_at": ["gte", "lt"], "starts_at": ["gte", "lt"]}
    action_roles = {"create": "operator", "expire": "operator"}

    def perform_update(self, serializer):
        silence_changed(silence=serializer.save(), by=self.request.user, via="api")

    def perform_destroy(self, instance):
        silence_delete(silence=instance, by=self.request.user, via="api")

    @extend_schema(request=None, responses={200: SilenceSerializer})
    @action(detail=True, methods=["post"])
    def expire(self, request, pk=None):
        silence = self.get_object()
        silence_expire(silence=silence, by=request.user, via="api")
        silence.refresh_from_db()
        return Response(SilenceSerializer(silence, context=self.get_serializer_context()).data)


class MaintenanceWindowViewSet(viewsets.ModelViewSet):
    queryset = MaintenanceWindow.objects.select_related("service", "created_by")
    serializer_class = MaintenanceWindowSerializer
    filterset_fields = {"service__slug": ["exact"]}

    # A shortened, moved or deleted window must not keep holding alerts until its old end.
    @transaction.atomic
    def perform_update(self, serializer):
        serializer.save()
        holds_recheck(now=timezone.now())

    @transaction.atomic
    def perform_destroy(self, instance):
        instance.delete()
        holds_recheck(now=timezone.now())


router.register("alert-rules", AlertRuleViewSet)
router.register("alert-channels", ChannelViewSet)
router.register("escalation-policies", EscalationPolicyViewSet)
router.register("silences", SilenceViewSet)
router.register("maintenance-windows", MaintenanceWindowViewSet)
