"""The Django admin asks the portal's role rule, not `is_staff`: one answer to "who is an admin"
for pages, the API and the admin (superusers and members of the `admin` group).

`portal.admin_apps.PortalAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS and names
this class as the default site, so every app's `@admin.register` lands here (discovered when the
registry is first read, see PortalAdminSite).
"""

import threading

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
    """Every app's admin.py (~40 ModelAdmins) is imported the first time the registry is read —
    by the URL conf, the system checks or a test — instead of at start-up: management commands
    (`codehealth scan` in CI on every commit) never use them."""

    login_form = RoleAdminAuthenticationForm

    def __init__(self, *args, **kwargs):
        self._discovery = "pending"  # -> "running" -> "done"
        self._discovery_lock = threading.RLock()  # re-entered: discovery registers (reads) in this thread
        super().__init__(*args, **kwargs)

    @property
    def _registry(self):
        if self._discovery != "done":
            with self._discovery_lock:  # another thread waits for the whole registry
                if self._discovery == "pending":
                    self._discovery = "running"
                    try:
                        admin.autodiscover()
                    except BaseException:
                        self._discovery = "pending"  # the next reader meets the same error
                        raise
                    self._discovery = "done"
        return self._models

    @_registry.setter
    def _registry(self, value):
        self._models = value

    def has_permission(self, request):
        return has_role(request.user, ADMIN)
