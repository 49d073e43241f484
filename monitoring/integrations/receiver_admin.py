"""Admin of the Alertmanager/Grafana receivers: tokens shown once, like service keys."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from monitoring.integrations.models import Receiver
from monitoring.integrations.receivers import receiver_delete, receiver_saved, receiver_token_issue


@admin.register(Receiver)
class ReceiverAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "service", "enabled", "has_token", "managed_rule", "last_received_at"]
    list_filter = ["kind", "enabled"]
    list_select_related = ["service", "rule"]
    search_fields = ["name"]
    fields = [
        "name", "kind", "service", "enabled", "severity_label", "severity_map", "default_severity",
        "token_prefix", "managed_rule", "created_at", "last_received_at",
    ]  # fmt: skip
    readonly_fields = ["token_prefix", "managed_rule", "created_at", "last_received_at"]
    actions = ["issue_token"]

    @admin.display(boolean=True, description="token")
    def has_token(self, obj):
        return bool(obj.token_hashed)

    @admin.display(description="alert rule")
    def managed_rule(self, obj):
        """Channels and escalation of the received alerts are set on this rule."""
        if not obj.rule_id:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:alerting_alertrule_change", args=[obj.rule_id]), obj.rule
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        receiver_saved(receiver=obj)
        if not change:
            self._show_token(request, obj)

    @admin.action(description="Issue a new token (shown once; the old one stops working)")
    def issue_token(self, request, queryset):
        for receiver in queryset:
            self._show_token(request, receiver)

    def _show_token(self, request, receiver):
        raw = receiver_token_issue(receiver=receiver)
        self.message_user(
            request,
            f"Token for {receiver}: {raw} — copy it now, it will not be shown again.",
            messages.WARNING,
        )

    def delete_model(self, request, obj):
        receiver_delete(receiver=obj, by=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
