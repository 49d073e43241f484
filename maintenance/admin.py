from django.contrib import admin
from django.utils import timezone

from maintenance.models import MaintenanceTask


@admin.register(MaintenanceTask)
class MaintenanceTaskAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "status", "priority", "due_at", "source", "updated_at"]
    list_filter = ["kind", "status", "priority", "source"]
    search_fields = ["title", "description", "source_ref"]
    readonly_fields = ["source", "source_ref", "closed_at", "created_at", "updated_at"]
    date_hierarchy = "due_at"

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if not change:
            obj.created_at = now
        obj.updated_at = now
        if "status" in form.changed_data:
            obj.status_set(obj.status, now=now)
        super().save_model(request, obj, form, change)
