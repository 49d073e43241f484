"""django.contrib.admin with the portal's site (kept apart from portal.admin_site: an app config
module is imported before the models are ready)."""

from django.contrib.admin.apps import SimpleAdminConfig


class PortalAdminConfig(SimpleAdminConfig):
    # SimpleAdminConfig: no autodiscovery at start-up; PortalAdminSite discovers the apps'
    # admin modules when its registry is first read.
    default_site = "portal.admin_site.PortalAdminSite"
