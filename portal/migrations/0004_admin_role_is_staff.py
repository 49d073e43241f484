"""One rule for "admin" (superuser or the `admin` group): staff users outside the group were
admins before and join it; members of the group get the staff flag that now follows it."""

from django.conf import settings
from django.db import migrations


def align(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Group = apps.get_model("auth", "Group")
    admins, _ = Group.objects.get_or_create(name="admin")
    for user in User.objects.filter(is_staff=True, is_superuser=False).exclude(groups=admins):
        user.groups.add(admins)
    User.objects.filter(groups=admins, is_staff=False).update(is_staff=True)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_service_slug_not_empty"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [migrations.RunPython(align, migrations.RunPython.noop)]
