"""The Django admin asks the portal's role rule, not `is_staff`: one answer to "who is an admin"
for pages, the API and the admin (superusers and members of the `admin` group).

`portal.admin_apps.PortalAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS and names
this class as the default site, so every app's `@admin.register` lands here.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from portal.roles import ADMIN, has_role


class RoleAdminAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)  # active accounts only
        if not has_role(user, ADMIN):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class PortalAdminSite(admin.AdminSite):
    login_form = RoleAdminAuthenticationForm

    def has_permission(self, request):
        return has_role(request.user, ADMIN)
