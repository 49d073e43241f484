from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self):
        # Imported here because both need the app registry to be ready.
        from portal import checks  # noqa: F401  (registers system checks)
        from portal.roles import sync_role_permissions

        # Permissions only exist once post_migrate has created them, so roles follow them here.
        post_migrate.connect(lambda **kwargs: sync_role_permissions(), weak=False, dispatch_uid="portal.sync_roles")
