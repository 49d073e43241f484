"""Trends from git history: one scan per commit, contents read with git (the working tree is
never touched), unchanged files reused between commits like between live scans."""

from collections.abc import Callable
from pathlib import Path

from django.utils import timezone

from codehealth.analyzer.gitsource import GitError, git_commits, git_files_at, repository_root
from codehealth.conf import excludes_for
from codehealth.models import CodeRepository, CodeScan
from codehealth.scanning import ScanError, scan_create, scan_run


def history_run(
    *,
    repository: CodeRepository,
    commits: int,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[CodeScan]:
    """Scan the last `commits` commits, oldest first. A commit scanned before is not scanned
    again (its scan is returned as it is)."""
    try:
        top, subdir = repository_root(Path(repository.path))
        history = git_commits(top, commits)
    except GitError as exc:
        raise ScanError(f"{repository.path}: not a usable git repository ({exc})") from exc
    excludes = excludes_for(repository)
    done = {
        scan.commit: scan
        for scan in CodeScan.objects.filter(
            repository=repository, trigger=CodeScan.Trigger.HISTORY, status=CodeScan.Status.SUCCEEDED
        )
    }
    scans = []
    for index, commit in enumerate(history):
        if progress:
            progress("commits", index, len(history))
        if commit.sha in done:
            scans.append(done[commit.sha])
            continue
        files = git_files_at(top, commit.sha, excludes, subdir)
        scan = scan_create(
            repository=repository,
            trigger=CodeScan.Trigger.HISTORY,
            with_pylint=False,
            commit=commit.sha,
            committed_at=commit.committed_at,
            now=timezone.now(),
        )
        scans.append(scan_run(scan=scan, files=files, workers=workers))
    if progress:
        progress("commits", len(history), len(history))
    return scans
