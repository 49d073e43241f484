"""Stored behaviour results in the admin: to see what the daily job stored and when, and to delete
a result so the next question computes it again (e.g. after late events for a closed range)."""

from django.contrib import admin

from analytics.models_behaviour import BehaviourResult


@admin.register(BehaviourResult)
class BehaviourResultAdmin(admin.ModelAdmin):
    list_display = ["kind", "service", "period_start", "period_end", "events", "seconds", "computed_at"]
    list_filter = ["kind", "service"]
    list_select_related = ["service"]
    ordering = ["-id"]  # newest first by the primary key (no index on computed_at needed)
    readonly_fields = [f.name for f in BehaviourResult._meta.fields]

    def has_add_permission(self, request):
        return False  # results are computed, never typed in

    def has_change_permission(self, request, obj=None):
        return False
