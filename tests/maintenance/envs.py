"""Real Python environments for the executors' tests (fixtures re-exported by conftest.py).

`wheelhouse` builds tiny wheels by hand (a zip with a correct RECORD: no build backend, no
network): tinyalpha 1.0, 1.1 (which starts requiring tinyextra) and 2.0, tinybeta 1.0 and 1.0.1,
tinyextra 1.0. `base_venv` is one virtual environment per test session with tinyalpha 1.0 and
tinybeta 1.0 installed. `target_venv` is a copy of it per test that changes it (a copy costs a
second or two, creating a venv several); `readonly_venv` is the venv itself, for tests that only
read it. Both point pip at the wheelhouse only.
"""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from maintenance.executors.base import RunContext, Target

WHEELS = [
    ("tinyalpha", "1.0", []),
    ("tinyalpha", "1.1", ["tinyextra"]),
    ("tinyalpha", "2.0", []),
    ("tinybeta", "1.0", []),
    ("tinybeta", "1.0.1", []),
    ("tinyextra", "1.0", []),
]


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel_build(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    """A pure-Python wheel of project `name` (one module of the same name) at `version`."""
    info = f"{name}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/top_level.txt": f"{name}\n".encode(),
    }
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name_in_zip, data in files.items():
            wheel.writestr(name_in_zip, data)
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def offline_pip_env(wheelhouse: Path) -> dict[str, str]:
    """pip options for the wheelhouse only. Variables rather than the venv's pip.conf: PIP_*
    variables of the machine running the tests (a find-links of its own) would win over it."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheelhouse")
    for name, version, requires in WHEELS:
        wheel_build(folder, name, version, requires)
    return folder


@pytest.fixture(scope="session")
def base_venv(tmp_path_factory, wheelhouse) -> Path:
    venv = tmp_path_factory.mktemp("envs") / "base"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "tinyalpha==1.0", "tinybeta==1.0"],
        check=True,
        timeout=120,
        env={**os.environ, **offline_pip_env(wheelhouse)},
    )
    return venv


@dataclass
class Env:
    root: Path
    project: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def freeze(self) -> list[str]:
        done = subprocess.run(
            [self.python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True, timeout=60
        )
        return sorted(done.stdout.splitlines())

    def version(self, module: str) -> str | None:
        done = subprocess.run(
            [self.python, "-c", f"import {module}; print({module}.__version__)"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.strip() if done.returncode == 0 else None


@pytest.fixture
def target_venv(base_venv, wheelhouse, tmp_path, monkeypatch) -> Env:
    for name, value in offline_pip_env(wheelhouse).items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "venv"
    shutil.copytree(base_venv, root, symlinks=True)
    project = tmp_path / "project"
    project.mkdir()
    return Env(root, project)


@pytest.fixture
def readonly_venv(base_venv, wheelhouse, tmp_path, monkeypatch) -> Env:
    """The session's venv itself, for tests that only read it (plans, audits): no copy."""
    for name, value in offline_pip_env(wheelhouse).items():
        monkeypatch.setenv(name, value)
    project = tmp_path / "project"
    project.mkdir()
    return Env(base_venv, project)


def run_context(target: Target, config: dict, *, seconds: float = 120) -> tuple[RunContext, list[str]]:
    """A RunContext outside the database whose log lines are collected in a list."""
    lines: list[str] = []
    return RunContext(target=target, config=config, log=lines.append, deadline=time.monotonic() + seconds), lines
