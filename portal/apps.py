from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self):
        # Imported here because both need the app registry to be ready.
        from portal import checks  # noqa: F401  (registers system checks)
        from portal.roles import sync_role_permissions

        def sync_after_last_app(sender, **kwargs):
            # post_migrate is sent once per app, and each app's permissions are created in its
            # turn: only after the last app do they all exist.
            if sender is list(apps.get_app_configs())[-1]:
                sync_role_permissions()

        post_migrate.connect(sync_after_last_app, weak=False, dispatch_uid="portal.sync_roles")
