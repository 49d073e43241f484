"""The analyzer must stay importable and usable without Django (design rule)."""

import subprocess
import sys

from tests.support import ROOT

PROBE = """
import sys
from pathlib import Path
import codehealth.analyzer
from codehealth.analyzer import Thresholds, analyze_sources, read_tree
from codehealth.analyzer import cognitive, debt, gate, gitsource, pylint_runner, rawcounts, rawscan, source, tree
reports = list(analyze_sources(read_tree(Path("codehealth/analyzer"), ()), Thresholds(), workers=2))
assert reports and not any(r.error for r in reports)
loaded = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
print(loaded)
"""


def test_analyzer_imports_nothing_from_django():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
