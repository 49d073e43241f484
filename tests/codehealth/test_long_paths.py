"""File and repository paths of any length the file system allows are stored whole: PostgreSQL
refused paths over 500 characters (varchar(500)), and SQLite kept debt paths cut at 500."""

import json
import secrets
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from codehealth.models import CodeRepository, CodeScan, DebtItem, FileMetrics
from codehealth.scanning import scan_create, scan_run
from tests.support import on_postgres


def deep(root, components: int):
    """A directory `components` levels below root, each name 200 random hex digits (random, so
    PostgreSQL cannot compress an index entry below its size limit)."""
    path = root
    for _ in range(components):
        path = path / secrets.token_hex(100)
    path.mkdir(parents=True)
    return path


@pytest.mark.django_db
def test_a_path_over_500_characters_is_stored_whole(repository):
    folder = deep(Path(repository.path), 3)
    (folder / "long.py").write_text("# TODO: shorten this path\nx = 1\n")
    rel = (folder / "long.py").relative_to(repository.path).as_posix()
    assert len(rel) > 600
    scan = scan_run(scan=scan_create(repository=repository), workers=1)
    assert scan.status == CodeScan.Status.SUCCEEDED, scan.error
    assert FileMetrics.objects.get().path == rel
    assert DebtItem.objects.get().path == rel


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_stores_paths_longer_than_an_index_entry(tmp_path):
    if not on_postgres():
        pytest.skip("PostgreSQL's column and index limits; SQLite has neither (the test above runs there)")
    root = deep(tmp_path, 3)  # the repository's own path: over 600 characters
    folder = deep(root, 15)  # a file path of ~3,000 characters: more than a btree index entry may hold
    (folder / "deep.py").write_text("# FIXME: far too deep\ndef f(a):\n    return a\n")
    (root / "top.py").write_text("x = 1\n")

    def scan():
        out = StringIO()
        call_command("codehealth", "scan", str(root), "--json", "--workers=1", stdout=out)
        return json.loads(out.getvalue())

    first = scan()
    assert (first["status"], first["files"], first["files_failed"]) == ("succeeded", 2, 0)
    again = scan()
    assert (again["files"], again["files_reused"], again["new_debt"]) == (2, 2, 0)
    repository = CodeRepository.objects.get()
    assert repository.path == str(root.resolve())
    assert repository.name == root.name[:92]  # named after its directory, cut to fit the name column
    stored = FileMetrics.objects.exclude(path="top.py").get()
    assert len(stored.path) > 3000 and stored.path.endswith("/deep.py")
    assert DebtItem.objects.get().path == stored.path
