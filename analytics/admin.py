from django.contrib import admin

from analytics.models import FeatureHourRollup, UsageEvent
from portal.admin_lists import BigTableAdmin


class ReadOnlyAdmin(BigTableAdmin):
    """Usage events and their rollups are written by the ingest and the fold job, never by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deleting raw events would leave the rollups counting them


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ["time", "service", "kind", "name", "duration_ms", "success", "error_type", "session_id", "user_id"]
    list_filter = ["kind", "success", "service"]
    list_select_related = ["service"]
    # Exact lookups only: each one is served by an index (a LIKE would scan the whole table).
    search_fields = ["=name", "=session_id", "=user_id", "=event_id"]
    ordering = ["-id"]


@admin.register(FeatureHourRollup)
class FeatureHourRollupAdmin(ReadOnlyAdmin):
    list_display = ["hour", "service", "name", "count", "errors", "duration_count", "duration_min", "duration_max"]
    list_filter = ["service"]
    list_select_related = ["service"]
    search_fields = ["=name"]
    ordering = ["-hour"]
    exclude = ["sketch"]


from analytics.behaviour import admin as behaviour_admin  # noqa: E402, F401  (registers BehaviourResult)
