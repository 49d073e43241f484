import secrets

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import import_string

from portal.firstrun import first_password_save
from portal.roles import ADMIN, sync_role_permissions
from portal.schedules import schedules_sync

DEMO_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create or update periodic jobs and role permissions (idempotent); --demo adds an admin user."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="create the demo admin and demo data")

    @transaction.atomic
    def handle(self, *args, demo=False, **options):
        sync_role_permissions()
        for name, outcome in schedules_sync().items():
            self.stdout.write(f"schedule {name}: {outcome}")
        # Apps install their defaults (e.g. built-in alert rules) through one hook each:
        # AppConfig.setup_hook = "app.module.function", called as function(stdout=..., demo=...).
        for config in apps.get_app_configs():
            hook = getattr(config, "setup_hook", None)
            if hook:
                import_string(hook)(stdout=self.stdout, demo=demo)
        if demo:
            self.create_demo_admin()
            # Imported here: numpy and the demo's modules are needed only with --demo.
            from portal.demo.install import demo_install

            demo_install(stdout=self.stdout)

    def create_demo_admin(self):
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is not None:
            self.stdout.write(f"demo admin '{DEMO_USERNAME}' exists; its password is unchanged")
            return
        password = secrets.token_urlsafe(12)  # generated per install: never a fixed default
        user = User.objects.create_superuser(DEMO_USERNAME, "admin@localhost", password)
        user.groups.add(Group.objects.get(name=ADMIN))
        self.stdout.write(self.style.SUCCESS(f"demo admin created — username: {DEMO_USERNAME}  password: {password}"))
        first_password_save(password)  # runportal's start-up block shows it once more
