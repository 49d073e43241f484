from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from maintenance.models import Environment, MaintenanceRun, MaintenanceTask
from maintenance.runner import RunRefused, run_queue
from portal.admin_lists import BigTableAdmin


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["name", "python", "project_dir", "package_manager", "service", "repository"]
    list_filter = ["package_manager", "service"]
    search_fields = ["name", "python", "project_dir"]
    filter_horizontal = ["health_checks"]
    readonly_fields = ["created_at", "updated_at"]


class ApprovalSelect(forms.NullBooleanSelect):
    """Yes / no / the kind's default (empty), in words rather than Django's "Unknown"."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [
            ("unknown", "The kind's default"),
            ("true", "Yes: plans wait for an operator"),
            ("false", "No: plans are applied at once"),
        ]


@admin.register(MaintenanceTask)
class MaintenanceTaskAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "environment", "schedule", "enabled", "status", "priority", "due_at", "source"]
    list_filter = ["kind", "status", "environment", "enabled", "schedule", "priority", "source"]
    search_fields = ["title", "description", "source_ref"]
    list_select_related = ["environment"]
    readonly_fields = ["source", "source_ref", "closed_at", "created_at", "updated_at", "approval_in_effect"]
    autocomplete_fields = ["assignee"]
    actions = ["run_now"]
    fieldsets = [
        (None, {"fields": ["kind", "title", "description", "environment", "status", "priority", "due_at", "assignee"]}),
        ("Schedule", {"fields": ["enabled", "schedule", "time_of_day", "weekday", "day_of_month", "cron"]}),
        ("Execution", {"fields": ["config", "requires_approval", "approval_in_effect", "timeout_seconds"]}),
        ("Record", {"fields": ["source", "source_ref", "closed_at", "created_at", "updated_at"]}),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "requires_approval":
            kwargs["widget"] = ApprovalSelect
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="Approval in effect", boolean=True)
    def approval_in_effect(self, obj):
        return obj.approval_needed if obj.pk else None

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if not change:
            obj.created_at = now
        obj.updated_at = now
        if "status" in form.changed_data:
            obj.status_set(obj.status, now=now)
        super().save_model(request, obj, form, change)

    @admin.action(description="Run the selected tasks now")
    def run_now(self, request, queryset):
        for task in queryset:
            try:
                run = run_queue(task=task, trigger="manual", by=request.user)
            except RunRefused as exc:
                self.message_user(request, f"{task}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"{task}: run #{run.pk} queued.")


@admin.register(MaintenanceRun)
class MaintenanceRunAdmin(BigTableAdmin):
    """Read-only: runs change only through the runner (run now, approve, reject). Admins may
    delete old runs."""

    list_display = ["id", "task", "trigger", "status", "created_at", "finished_at", "summary"]
    list_filter = ["status", "trigger", "task__kind", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["task"]
    search_fields = ["summary"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
