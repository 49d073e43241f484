from django import forms
from django.contrib import admin, messages

from monitoring.healthchecks.masking import config_masked, config_unmasked
from monitoring.healthchecks.runner import health_check_run
from monitoring.integrations import receiver_admin  # noqa: F401  (registers the alert receivers)
from monitoring.models import (
    BrowserKey,
    HealthCheck,
    HealthCheckResult,
    HeartbeatPing,
    HourRollup,
    IngestBatch,
    Metric,
    MetricSample,
    MetricTotal,
    MinuteRollup,
    RollupState,
)
from monitoring.models.checks import CONFIG_FIELDS
from monitoring.vitals import snippet_html
from portal.admin_lists import BigTableAdmin


class ReadOnlyAdmin(BigTableAdmin):
    """Stored measurements are written by the pipeline, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "unit", "help", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "help"]
    readonly_fields = ["created_at"]


@admin.register(MetricSample)
class MetricSampleAdmin(ReadOnlyAdmin):
    list_display = ["name", "service", "labels", "value", "time"]
    list_select_related = ["service"]
    search_fields = ["=name"]
    ordering = ["-id"]


class RollupAdmin(ReadOnlyAdmin):
    list_display = ["name", "service", "labels", "start", "count", "sum", "min", "max", "last"]
    list_select_related = ["service"]
    search_fields = ["=name"]
    list_filter = [("start", admin.DateFieldListFilter)]
    exclude = ["sketch"]
    ordering = ["-start"]


admin.site.register(MinuteRollup, RollupAdmin)
admin.site.register(HourRollup, RollupAdmin)


@admin.register(RollupState)
class RollupStateAdmin(ReadOnlyAdmin):
    list_display = ["key", "rolled_until", "dirty_since", "claimed_until", "claimed_at", "updated_at"]


@admin.register(MetricTotal)
class MetricTotalAdmin(ReadOnlyAdmin):
    list_display = ["name", "service", "labels", "count", "sum", "until"]
    search_fields = ["=name"]


@admin.register(IngestBatch)
class IngestBatchAdmin(ReadOnlyAdmin):
    list_display = ["key", "service", "samples", "created_at"]
    list_filter = ["service"]


class HealthCheckForm(forms.ModelForm):
    """Header values in the config are write-only (as in the API): shown masked, and a masked
    value sent back keeps the stored one."""

    class Meta:
        model = HealthCheck
        fields = list(CONFIG_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["config"] = config_masked(self.instance.config)

    def clean(self):
        # The kind's own rules are the model's (`HealthCheck.clean_fields`), run after this.
        cleaned = super().clean()
        if self.instance.pk and "config" in cleaned:
            cleaned["config"] = config_unmasked(cleaned["config"], self.instance.config)
        return cleaned


class ResultInline(admin.TabularInline):
    model = HealthCheckResult
    extra = 0
    can_delete = False
    fields = ["created_at", "status", "latency_ms", "message"]
    readonly_fields = fields
    ordering = ["-created_at"]
    max_num = 0
    show_change_link = False

    def get_queryset(self, request):
        ids = HealthCheckResult.objects.order_by("-created_at").values_list("id", flat=True)
        object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if object_id:
            ids = ids.filter(health_check_id=object_id)
        return super().get_queryset(request).filter(id__in=list(ids[:20]))


@admin.register(HealthCheck)
class HealthCheckAdmin(admin.ModelAdmin):
    form = HealthCheckForm
    list_display = [
        "name",
        "service",
        "kind",
        "critical",
        "enabled",
        "last_status",
        "last_latency_ms",
        "last_checked_at",
    ]
    list_filter = ["kind", "critical", "enabled", "last_status", "service"]
    list_select_related = ["service"]
    search_fields = ["name", "service__name"]
    readonly_fields = [
        "uuid",
        "last_status",
        "last_checked_at",
        "last_message",
        "last_latency_ms",
        "last_ping_at",
        "last_start_at",
        "last_fail_at",
        "next_run_at",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["service", "name", "kind", "config", "critical", "enabled"]}),
        ("Schedule", {"fields": ["interval_seconds", "timeout_seconds"]}),
        ("Heartbeat", {"fields": ["uuid", "period_seconds", "cron", "grace_seconds"]}),
        ("State", {"fields": readonly_fields[1:]}),
    ]
    inlines = [ResultInline]
    actions = ["run_now", "enable", "disable"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.next_run_at = None  # due at the next sweep, like an edit through the API
        super().save_model(request, obj, form, change)

    @admin.action(description="Run the selected checks now")
    def run_now(self, request, queryset):
        for check in queryset.select_related("service"):
            result = health_check_run(check=check)
            self.message_user(request, f"{check}: {result.status} — {result.message}", messages.INFO)

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        queryset.update(enabled=True)

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        queryset.update(enabled=False)


@admin.register(HealthCheckResult)
class HealthCheckResultAdmin(ReadOnlyAdmin):
    list_display = ["health_check", "status", "latency_ms", "message", "created_at"]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["health_check", "health_check__service"]


@admin.register(HeartbeatPing)
class HeartbeatPingAdmin(ReadOnlyAdmin):
    list_display = ["health_check", "kind", "created_at", "remote_addr", "user_agent"]
    list_filter = ["kind"]
    list_select_related = ["health_check", "health_check__service"]


@admin.register(BrowserKey)
class BrowserKeyAdmin(admin.ModelAdmin):
    """Web-vitals beacon keys: public (they sit in the pages that report), limited to origins."""

    list_display = ["service", "name", "public_key", "allowed_origins", "enabled", "created_at"]
    list_filter = ["enabled"]
    list_select_related = ["service"]
    search_fields = ["name", "service__name", "=public_key"]
    readonly_fields = ["public_key", "snippet", "created_at"]
    fields = ["service", "name", "allowed_origins", "enabled", "public_key", "snippet", "created_at"]

    @admin.display(description="Page snippet")
    def snippet(self, obj):
        if obj is None or obj.pk is None:
            return "Shown once the key is saved."
        return snippet_html(obj)
