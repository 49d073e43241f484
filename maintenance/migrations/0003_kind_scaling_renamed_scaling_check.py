from django.db import migrations


def forwards(apps, schema_editor):
    apps.get_model("maintenance", "MaintenanceTask").objects.filter(kind="scaling").update(kind="scaling_check")


def backwards(apps, schema_editor):
    apps.get_model("maintenance", "MaintenanceTask").objects.filter(kind="scaling_check").update(kind="scaling")


class Migration(migrations.Migration):
    """The kind value `scaling` is now `scaling_check`, the name its executor registers under."""

    dependencies = [("maintenance", "0002_environment_runs_task_schedule")]

    operations = [migrations.RunPython(forwards, backwards)]
