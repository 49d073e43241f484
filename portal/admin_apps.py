"""django.contrib.admin with the portal's site (kept apart from portal.admin_site: an app config
module is imported before the models are ready)."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    default_site = "portal.admin_site.PortalAdminSite"
