from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from portal.keys import service_key_issue, service_key_revoke
from portal.models import Deployment, Service, ServiceKey
from portal.roles import staff_sync

admin.site.site_header = "Operations portal"
admin.site.site_title = "Operations portal admin"


class ServiceKeyInline(admin.TabularInline):
    model = ServiceKey
    extra = 0
    can_delete = False
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # keys are issued with the "Issue a new API key" action, which shows them once


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "owner_group", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceKeyInline]
    actions = ["issue_key"]

    @admin.action(description="Issue a new API key (shown once)")
    def issue_key(self, request, queryset):
        for service in queryset:
            issued = service_key_issue(service=service, name=f"issued by {request.user.get_username()}")
            self.message_user(
                request,
                f"New key for {service}: {issued.raw} — copy it now, it will not be shown again.",
                messages.WARNING,
            )


@admin.register(ServiceKey)
class ServiceKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "service", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["service", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "service__name"]
    readonly_fields = ["service", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        revoked = sum(service_key_revoke(key=key) for key in queryset)
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["service", "version", "environment", "created_at"]
    list_filter = ["service", "environment"]
    search_fields = ["version", "description"]
    date_hierarchy = "created_at"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    """Roles are groups (viewer, operator, admin). Staff status is not set by hand: it follows
    the admin role (superuser or the `admin` group), which is what grants the admin site."""

    readonly_fields = ["is_staff", "last_login", "date_joined"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # the groups are saved here
        staff_sync(user=form.instance)
