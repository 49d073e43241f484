"""Import every module of the project, with Django set up, in whatever venv runs this.

CI runs it in the venv `make run` built (runtime dependencies only, no test extras), so an
import that only the test tools satisfy fails here instead of on a newcomer's first start."""

import importlib
import os
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "monitoring", "codehealth", "analytics", "maintenance", "reporting")


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    failures, count = [], 0
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            count += 1
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # report every failure, not just the first
                failures.append(f"{info.name}: {type(exc).__name__}: {exc}")
    for line in failures:
        print(f"cannot import {line}", file=sys.stderr)
    print(f"imported {count - len(failures)} of {count} modules")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
