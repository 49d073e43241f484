import textwrap
from pathlib import Path

import pytest

from codehealth.models import CodeRepository
from codehealth.scanning import scan_create, scan_run


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture(autouse=True)
def scannable_test_dirs(settings, tmp_path_factory):
    # Repositories in these tests live in pytest's temporary directories, and the API tests
    # register paths under /srv; tests/codehealth/test_roots.py checks the default roots.
    settings.CODEHEALTH_ALLOWED_ROOTS = [str(tmp_path_factory.getbasetemp()), "/srv"]


@pytest.fixture
def tree(tmp_path):
    """tree(files) -> a directory holding those files (dedented)."""

    def make(files: dict[str, str], root: Path | None = None) -> Path:
        return write_tree(root or tmp_path / "src", files)

    return make


@pytest.fixture
def repository(db, tmp_path):
    root = tmp_path / "src"
    root.mkdir(exist_ok=True)
    return CodeRepository.objects.create(name="sample", path=str(root))


@pytest.fixture
def scanned(repository, tree):
    """A repository with two finished scans (so there is a trend, reuse and debt)."""
    root = tree(
        {
            "app/core.py": "# TODO: tidy\ndef f(a):\n    return a if a else 0\n",
            "app/complex.py": "def g(a):\n" + "".join(f"    if a == {i}:\n        return {i}\n" for i in range(25)),
            "app/broken.py": "def (:\n",
        }
    )
    scan_run(scan=scan_create(repository=repository), workers=1)
    (root / "app/core.py").write_text("# TODO: tidy\n# FIXME: later\ndef f(a):\n    return a if a else 0\n")
    last = scan_run(scan=scan_create(repository=repository), workers=1)
    assert last.status == "succeeded", last.error
    return repository, last
