"""dependency_update on a poetry project: `poetry show --outdated` plans, `poetry add` applies, and
a failed verification puts pyproject.toml, poetry.lock and the environment back.

Poetry is not a dependency of the portal (it is a tool of the environments it maintains) and
installing it takes about a minute, so these tests run where a poetry executable is given by
PORTAL_TEST_POETRY or found on the PATH, and are skipped elsewhere. The project's package index
is a local server (pytest-httpserver) serving the test wheels as a PEP 503 simple index.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from maintenance.executors.base import ROLLED_BACK, SUCCEEDED, Target, config_validate
from maintenance.executors.dependency_update import DependencyUpdate
from tests.maintenance.envs import run_context

POETRY = os.environ.get("PORTAL_TEST_POETRY") or shutil.which("poetry") or ""
pytestmark = [
    pytest.mark.skipif(not POETRY, reason="no poetry executable (set PORTAL_TEST_POETRY or put poetry on the PATH)"),
    pytest.mark.slow,
]

PYPROJECT = """\
[tool.poetry]
name = "shop"
version = "0.1.0"
description = ""
authors = []
package-mode = false

[tool.poetry.dependencies]
python = ">=3.9"
tinyalpha = "1.0"

[[tool.poetry.source]]
name = "local"
url = "{url}"
priority = "primary"
"""


@pytest.fixture
def simple_index(httpserver, wheelhouse):
    """The wheelhouse as a simple index: /simple/<name>/ lists links with sha256 fragments."""
    by_name: dict[str, list[Path]] = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        by_name.setdefault(wheel.name.split("-")[0], []).append(wheel)
        httpserver.expect_request(f"/files/{wheel.name}").respond_with_data(
            wheel.read_bytes(), content_type="application/octet-stream"
        )
    for name, wheels in by_name.items():
        links = "".join(
            f'<a href="/files/{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">{w.name}</a>\n'
            for w in wheels
        )
        httpserver.expect_request(f"/simple/{name}/").respond_with_data(
            f"<html><body>{links}</body></html>", content_type="text/html"
        )
    return httpserver.url_for("/simple/")


@pytest.fixture
def poetry_project(target_venv, simple_index, tmp_path, monkeypatch):
    monkeypatch.setenv("POETRY_CACHE_DIR", str(tmp_path / "poetry-cache"))
    monkeypatch.setenv("PATH", str(Path(POETRY).parent) + os.pathsep + os.environ["PATH"])
    (target_venv.project / "pyproject.toml").write_text(PYPROJECT.format(url=simple_index))
    env = {**os.environ, "VIRTUAL_ENV": str(target_venv.root)}
    for args in (["lock"], ["install", "--no-interaction"]):
        subprocess.run(
            [POETRY, "--no-ansi", *args], cwd=target_venv.project, env=env, check=True, timeout=300, capture_output=True
        )
    return target_venv


def _target(env, **overrides):
    values = {"name": "shop", "python": env.python, "project_dir": str(env.project), "package_manager": "poetry"}
    return Target(**{**values, **overrides})


def test_poetry_plan_and_apply(poetry_project):
    check = "import tinyalpha; assert tinyalpha.__version__ == '2.0'"
    ctx, lines = run_context(_target(poetry_project, verify_command=("python", "-c", check)), config_validate(
        "dependency_update", {"policy": "major", "allow": ["tinyalpha"]}
    ), seconds=600)  # fmt: skip
    executor = DependencyUpdate()
    plan = executor.plan(ctx)
    assert plan.items == [{"name": "tinyalpha", "from": "1.0", "to": "2.0", "kind": "major"}], lines
    outcome = executor.apply(ctx, plan)
    assert outcome.status == SUCCEEDED, lines
    assert {"name": "tinyalpha", "from": "1.0", "to": "2.0"} in outcome.changes["packages"]
    assert 'tinyalpha = "^2.0"' in (poetry_project.project / "pyproject.toml").read_text()


def test_poetry_rollback_restores_the_project_files_and_the_freeze(poetry_project):
    project = poetry_project.project
    files = {name: (project / name).read_bytes() for name in ("pyproject.toml", "poetry.lock")}
    before = poetry_project.freeze()
    ctx, lines = run_context(
        _target(poetry_project, verify_command=("python", "-c", "raise SystemExit(1)")),
        config_validate("dependency_update", {"policy": "major", "allow": ["tinyalpha"]}),
        seconds=600,
    )
    executor = DependencyUpdate()
    outcome = executor.apply(ctx, executor.plan(ctx))
    assert outcome.status == ROLLED_BACK, lines
    assert {name: (project / name).read_bytes() for name in files} == files
    assert poetry_project.freeze() == before
