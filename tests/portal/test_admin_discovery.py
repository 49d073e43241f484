"""The admin's registrations (every app's admin.py, ~40 ModelAdmins) are discovered the first
time something reads the registry — the URL conf, the system checks, a test — not at start-up,
where management commands such as `codehealth scan` paid for them without using them. Whoever
reads the registry still sees all of it."""

import json
import subprocess
import sys

from tests.support import ROOT

SCRIPT = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
import django
django.setup()
loaded_at_start = "monitoring.alerting.admin" in sys.modules
from django.contrib import admin
from django.core import checks
from monitoring.alerting.models import AlertRule
if sys.argv[1] == "checks":  # the first reader: the admin checks (check_admin_app), as in `manage.py check`
    assert checks.run_checks(tags=[checks.Tags.admin]) == []
seen = {m._meta.label for m in admin.site._registry}
print(json.dumps({
    "loaded_at_start": loaded_at_start,
    "registered": admin.site.is_registered(AlertRule),
    "models": len(seen),
    "user_admin": type(admin.site._registry[django.contrib.auth.get_user_model()]).__name__,
}))
"""


def run(first: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, first], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_admin_modules_load_when_the_registry_is_first_read_not_at_start_up():
    found = run("registry")
    assert found["loaded_at_start"] is False
    assert found["registered"] is True and found["models"] >= 30
    assert found["user_admin"] == "PortalUserAdmin"  # portal's admin.py replaced auth's, in app order


def test_the_admin_system_checks_see_every_registration():
    found = run("checks")
    assert found["registered"] is True and found["models"] >= 30
