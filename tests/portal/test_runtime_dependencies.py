"""The running portal imports only what `[project] dependencies` installs: an import satisfied
only by a test extra works in development and CI, then fails on a production install."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.support import ROOT

PACKAGES = ("portal", "monitoring", "codehealth", "analytics", "maintenance", "reporting")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_runtime_code_imports_only_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_normal(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}
    distributions = packages_distributions()
    outside = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for top in _imports(path):
                if top in PACKAGES or top in sys.stdlib_module_names:
                    continue
                if not {_normal(d) for d in distributions.get(top, [top])} & runtime:
                    outside.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    assert not outside, f"imported at runtime but not in [project] dependencies: {outside}"
