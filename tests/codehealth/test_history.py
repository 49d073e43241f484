"""Trends from git history, on a repository the test makes with real git."""

import subprocess
from io import StringIO

import pytest
from django.core.management import call_command

from codehealth.analyzer.gitsource import git_commits, git_files_at, repository_root
from codehealth.history import history_run
from codehealth.models import CodeRepository, CodeScan

pytestmark = pytest.mark.slow


def git(repo, *args, date: str = "2026-01-01T12:00:00Z"):
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
            "HOME": str(repo),
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
    ).stdout


@pytest.fixture
def history_repo(tmp_path):
    """Three commits: a simple module, then a TODO and a complex function, then a fix."""
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    steps = [
        {"pkg/a.py": "def f(a):\n    return a\n", "pkg/b.py": "X = 1\n"},
        {
            "pkg/a.py": "# TODO: split\ndef f(a):\n"
            + "".join(f"    if a == {i}:\n        return {i}\n" for i in range(15))
        },
        {"pkg/a.py": "def f(a):\n    return a\n"},
    ]
    for n, files in enumerate(steps):
        for rel, text in files.items():
            (repo / rel).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"step {n}", date=f"2026-01-0{n + 1}T12:00:00Z")
    # an uncommitted change in the working tree must neither be read nor touched
    (repo / "pkg/b.py").write_text("X = 2  # local edit\n")
    return repo


def test_git_reader_lists_commits_oldest_first_and_reads_blobs(history_repo):
    commits = git_commits(history_repo, 10)
    assert [c.subject for c in commits] == ["step 0", "step 1", "step 2"]
    files = {f.path: f.data for f in git_files_at(history_repo, commits[0].sha, [], "pkg")}
    assert files == {"a.py": b"def f(a):\n    return a\n", "b.py": b"X = 1\n"}


def test_repository_root_keeps_dots_of_a_hidden_subdirectory(history_repo):
    hidden = history_repo / ".config" / "src."
    hidden.mkdir(parents=True)
    assert repository_root(hidden) == (history_repo.resolve(), ".config/src.")
    assert repository_root(history_repo) == (history_repo.resolve(), "")


@pytest.mark.django_db
def test_history_scans_one_commit_each_without_touching_the_work_tree(history_repo):
    repo = CodeRepository.objects.create(name="hist", path=str(history_repo))
    status_before = git(history_repo, "status", "--porcelain")
    scans = history_run(repository=repo, commits=3, workers=1)
    assert [s.status for s in scans] == ["succeeded"] * 3
    assert [s.trigger for s in scans] == ["history"] * 3
    assert [s.committed_at.day for s in scans] == [1, 2, 3]
    assert [s.worst_complexity for s in scans] == [1, 16, 1]
    assert [s.debt_count for s in scans] == [0, 2, 0]  # TODO + complex function (cognitive 15 is at the limit)
    assert [s.files_reused for s in scans] == [0, 1, 2]  # b.py never changed; a.py reverted at step 2
    assert git(history_repo, "status", "--porcelain") == status_before
    assert (history_repo / "pkg/b.py").read_text() == "X = 2  # local edit\n"
    # history scans feed trends, not debt tracking
    assert not repo.debt_items.exists()
    # running it again scans nothing new
    again = history_run(repository=repo, commits=3, workers=1)
    assert [s.pk for s in again] == [s.pk for s in scans]
    assert CodeScan.objects.count() == 3


@pytest.mark.django_db
def test_history_command_prints_a_row_per_commit(history_repo):
    out = StringIO()
    call_command("codehealth", "history", str(history_repo / "pkg"), "--commits", "2", "--repo", "h", stdout=out)
    text = out.getvalue()
    assert text.count("2026-01-0") == 2
    assert CodeRepository.objects.get(name="h").scans.count() == 2
