"""Custom health checks are chosen by a registered name, no longer by an import path.

A check stored as {"path": ..., "kwargs": ...} becomes {"name": ..., "params": ...} when the
deployment registered that path in HEALTH_CUSTOM_CHECKS before migrating. Otherwise it is
disabled, keeps its old config for reference (nothing imports it any more) and says on its
last message what to do. Its params are checked on the next edit and before every run.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

DISABLED = (
    "Disabled when custom checks moved to a registry: {path} is not registered in HEALTH_CUSTOM_CHECKS. "
    'Register it under a name there, set config to {{"name": "<name>", "params": {{...}}}} and enable the check.'
)


def custom_checks_by_name(apps, schema_editor):
    health_check = apps.get_model("monitoring", "HealthCheck")
    by_path = {path: name for name, path in (getattr(settings, "HEALTH_CUSTOM_CHECKS", None) or {}).items()}
    now = timezone.now()
    for check in health_check.objects.filter(kind="custom"):
        config = check.config if isinstance(check.config, dict) else {}
        if "name" in config and "path" not in config:
            continue  # already in the new form
        path, kwargs = config.get("path"), config.get("kwargs")
        name = by_path.get(path) if isinstance(path, str) else None
        if name is not None:
            check.config = {"name": name, "params": kwargs if isinstance(kwargs, dict) else {}}
            check.save(update_fields=["config"])
            continue
        check.enabled = False
        check.last_status = "unhealthy"
        check.last_message = DISABLED.format(path=path if isinstance(path, str) else "its config")
        check.last_checked_at = now
        check.next_run_at = None
        check.save(update_fields=["enabled", "last_status", "last_message", "last_checked_at", "next_run_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0003_health_check_bounds"),
    ]

    # Backwards: rows stay by name; the old code reports such a check unhealthy (no path), runs nothing.
    operations = [migrations.RunPython(custom_checks_by_name, migrations.RunPython.noop)]
