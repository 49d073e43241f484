"""Admin: a service's error settings (its DSN shown), and error groups read-only but for the
status actions, which call the same lifecycle functions as the pages and the API."""

from django.contrib import admin, messages

from monitoring.errors.lifecycle import TransitionNotAllowed, group_ignore, group_resolve, group_unresolve
from monitoring.errors.models import ErrorGroup, ErrorProject
from monitoring.errors.sentry.dsn import dsn_for
from portal.admin_lists import BigTableAdmin


@admin.register(ErrorProject)
class ErrorProjectAdmin(admin.ModelAdmin):
    list_display = ["service", "dsn", "alert_on_new", "alert_on_regression", "created_at"]
    list_select_related = ["service"]
    fields = ["service", "dsn", "public_key", "alert_on_new", "alert_on_regression", "created_at"]
    readonly_fields = ["dsn", "public_key", "created_at"]
    actions = ["regenerate_keys"]

    @admin.display(description="DSN")
    def dsn(self, obj) -> str:
        return dsn_for(obj) if obj.pk else "(saved first)"

    def get_readonly_fields(self, request, obj=None):
        # A project stays with its service: the DSN's project id is this row's id.
        return [*self.readonly_fields, "service"] if obj else self.readonly_fields

    @admin.action(description="Regenerate the public key (the old DSN stops working)")
    def regenerate_keys(self, request, queryset):
        for project in queryset:
            project.regenerate_key()
        self.message_user(request, f"New keys for {queryset.count()} project(s): update the DSNs of those services.")


def _transition_action(func, done: str, description: str):
    def run(modeladmin, request, queryset):
        changed, refused = 0, []
        for group in queryset:
            try:
                func(group=group, by=request.user, via="admin")
                changed += 1
            except TransitionNotAllowed as exc:
                refused.append(str(exc))
        modeladmin.message_user(request, f"{done}: {changed} group(s).")
        for text in refused[:10]:
            modeladmin.message_user(request, text, level=messages.WARNING)

    run.__name__ = func.__name__
    return admin.action(description=description)(run)


@admin.register(ErrorGroup)
class ErrorGroupAdmin(BigTableAdmin):
    list_display = ["id", "title", "service", "level", "status", "times_seen", "users_affected", "last_seen"]
    list_filter = ["status", "level", "service"]
    search_fields = ["title", "culprit", "fingerprint"]
    list_select_related = ["service"]
    ordering = ["-last_seen", "-id"]
    actions = [
        _transition_action(group_resolve, "Resolved", "Resolve selected groups"),
        _transition_action(group_ignore, "Ignored", "Ignore selected groups"),
        _transition_action(group_unresolve, "Reopened", "Unresolve selected groups"),
    ]

    # Groups come from events; status changes go through the actions above.
    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
