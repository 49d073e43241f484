import textwrap
from pathlib import Path

import pytest

from codehealth.models import CodeRepository


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


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
