"""`manage.py codehealth scan` in CI: a re-scan of an unchanged tree starts without what only
other parts of the portal need (numpy and ddsketch for metric queries, httpx for health checks,
the URL conf and every template library for the system checks, the error capture that only a
failure needs), and with the objects start-up left frozen for the garbage collector (which is
off while Django starts)."""

import json
import subprocess
import sys

import pytest

from tests.support import ROOT, manage, separate_database

NOT_NEEDED = (
    "numpy",
    "ddsketch",
    "httpx",
    "drf_spectacular.views",
    "monitoring.flusher",
    "portal.urls",
    "rich.progress",
    "monitoring.alerting.admin",  # the admin's modules load when its registry is first read
    "radon",  # nothing to analyse
    "rest_framework.fields",  # the API's, with pygments: installed with the URL conf
    "rich",  # a log gets plain text; rich is for a terminal
    "monitoring.errors.capture",  # the error hooks load it on the first failure
    "monitoring.alerting.lifecycle",  # (through the capture modules)
    "cron_descriptor",  # cron schedules in words: pages only
    "tomllib",  # a maintenance environment's package manager, detected when a run needs it
)
# Runs manage.py as `python manage.py ...` would, then writes the names of every module loaded
# and how many objects the cyclic garbage collector was told to leave alone (gc.freeze).
# Also lists the collections that ran from importing Django until its apps were ready.
WRAPPER = """
import atexit, gc, json, runpy, sys
out = sys.argv.pop(1)
early = []

def starting(phase, info):
    apps = getattr(sys.modules.get("django.apps"), "apps", None)
    if phase == "start" and "django" in sys.modules and not (apps and apps.ready):
        early.append(info["generation"])

gc.callbacks.append(starting)
atexit.register(
    lambda: open(out, "w").write(json.dumps([sorted(sys.modules), gc.get_freeze_count(), gc.isenabled(), early]))
)
sys.argv[0] = "manage.py"
runpy.run_path("manage.py", run_name="__main__")
"""


def scan_loading(path, env, modules_file) -> tuple[subprocess.CompletedProcess, set[str], int, bool, list]:
    command = [sys.executable, "-c", WRAPPER, str(modules_file), "codehealth", "scan", str(path), "--repo", "proj"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    modules, frozen, collecting, early = json.loads(modules_file.read_text())
    return done, set(modules), frozen, collecting, early


@pytest.mark.slow
@pytest.mark.django_db
def test_an_unchanged_rescan_does_not_import_what_it_does_not_use(tmp_path):
    src = tmp_path / "proj"
    src.mkdir()
    for i in range(5):
        (src / f"m{i}.py").write_text(f"# TODO: item {i}\ndef f{i}(a):\n    return a\n")
    with separate_database(tmp_path) as env:
        first = manage("codehealth", "scan", str(src), "--repo", "proj", "--json", env=env)
        assert first.returncode == 0, first.stderr
        again, loaded, frozen, collecting, early = scan_loading(src, env, tmp_path / "modules.json")
        assert again.returncode == 0, again.stderr[-2000:]
        assert "5 (0 analysed, 5 reused, 0 failed)" in again.stdout  # the summary, as a CI log shows it
        assert "Quality gate: PASSED" in again.stdout
        assert "codehealth.scanning" in loaded  # the wrapper sees the scan's own modules
        assert not loaded & set(NOT_NEEDED), sorted(loaded & set(NOT_NEEDED))
        # Start-up's objects live until exit: the collector does not walk them again (nor at exit).
        assert frozen > 10_000
        # manage.py turns the collector off while Django starts (it ran ~200 times there, ~20 % of
        # this command), and on again once it has: runportal and qcluster must not run without it.
        assert early == []
        assert collecting
