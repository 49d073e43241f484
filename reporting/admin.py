from django.contrib import admin

from reporting.digest import subscription_reschedule
from reporting.models import Report, ReportSubscription


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "frequency",
        "send_time",
        "time_zone",
        "email_enabled",
        "channel",
        "enabled",
        "next_send_at",
    ]
    list_filter = ["frequency", "enabled", "email_enabled"]
    list_select_related = ["user", "channel"]
    search_fields = ["name", "user__username", "user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["next_send_at", "created_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        subscription_reschedule(sub=obj)  # the due time follows the schedule, as in the pages and API


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Reports are snapshots: read and delete only."""

    list_display = ["id", "kind", "trigger", "user", "period_start", "period_end", "status", "sent_at"]
    list_filter = ["kind", "trigger", "status"]
    list_select_related = ["user"]
    ordering = ["-id"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Report._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
