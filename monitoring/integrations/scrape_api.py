"""/api/v1/integrations/scrape-targets/: viewers read, admins write; service keys are refused.

The bearer token is write-only, like alert channels' secrets: never returned (`has_bearer_token`
says whether one is set), and a blank one on update keeps the stored token.
"""

from rest_framework import serializers, viewsets

from monitoring.integrations.models import ScrapeTarget
from monitoring.integrations.models.scrape import url_validate
from monitoring.labels import MetricError, check_labels
from portal.api.router import router
from portal.models import Service


class ScrapeTargetSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    url = serializers.CharField(
        max_length=500, validators=[url_validate], help_text=ScrapeTarget._meta.get_field("url").help_text
    )
    bearer_token = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Write-only: never returned. Blank on update keeps the stored token.",
    )
    has_bearer_token = serializers.BooleanField(read_only=True)
    labels = serializers.JSONField(required=False, help_text=ScrapeTarget._meta.get_field("labels").help_text)

    class Meta:
        model = ScrapeTarget
        fields = [
            "id", "service", "url", "interval_seconds", "timeout_seconds", "bearer_token", "has_bearer_token",
            "labels", "enabled", "series_limit", "next_scrape_at", "last_scrape_at", "last_ok", "last_error",
            "last_duration_ms", "last_samples", "last_refused_series", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "next_scrape_at", "last_scrape_at", "last_ok", "last_error", "last_duration_ms", "last_samples",
            "last_refused_series", "created_at",
        ]  # fmt: skip

    def validate_labels(self, value):
        try:
            return check_labels(value)
        except MetricError as exc:
            raise serializers.ValidationError(exc.message) from exc

    def validate(self, attrs):
        current = self.instance
        if current is not None and attrs.get("bearer_token", None) == "":
            attrs.pop("bearer_token")  # blank on update means "keep the stored token"
        interval = attrs.get("interval_seconds", current.interval_seconds if current else 60)
        timeout = attrs.get("timeout_seconds", current.timeout_seconds if current else 10)
        if timeout >= interval:
            raise serializers.ValidationError({"timeout_seconds": "must be less than interval_seconds"})
        return attrs


class ScrapeTargetViewSet(viewsets.ModelViewSet):
    queryset = ScrapeTarget.objects.select_related("service").order_by("pk")
    serializer_class = ScrapeTargetSerializer
    filterset_fields = {"enabled": ["exact"], "service__slug": ["exact"], "last_ok": ["exact"]}


router.register("integrations/scrape-targets", ScrapeTargetViewSet)
