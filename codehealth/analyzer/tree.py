"""Find the Python files of a tree and analyse the changed ones in worker processes."""

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from codehealth.analyzer.debt import Thresholds, findings_for
from codehealth.analyzer.source import FileReport, analyze_source, content_hash

# A pattern without "/" matches any path component (directory or file name); one with "/"
# matches the whole path relative to the root (fnmatch: "*" crosses directories).
DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    "*.egg-info",
    ".mypy_cache",
    ".pytest_cache",
    "site-packages",
    "*/migrations/[0-9]*.py",
    "migrations/[0-9]*.py",
)


def is_excluded(relpath: str, patterns: Iterable[str]) -> bool:
    parts = PurePosixPath(relpath).parts
    for pattern in patterns:
        if "/" in pattern:
            if fnmatch(relpath, pattern):
                return True
        elif any(fnmatch(part, pattern) for part in parts):
            return True
    return False


def python_files(root: Path, excludes: Iterable[str]) -> list[str]:
    """Relative posix paths of the .py files under root, sorted; symlinks are not followed."""
    patterns = tuple(excludes)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        dirnames[:] = sorted(d for d in dirnames if not is_excluded(f"{prefix}{d}", patterns))
        for name in filenames:
            if name.endswith(".py") and not is_excluded(f"{prefix}{name}", patterns):
                if not os.path.islink(os.path.join(dirpath, name)):
                    found.append(f"{prefix}{name}")
    found.sort()
    return found


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # relative, posix
    data: bytes

    @property
    def content_hash(self) -> str:
        return content_hash(self.data)


def read_tree(root: Path, excludes: Iterable[str]) -> list[SourceFile]:
    return [SourceFile(rel, (root / rel).read_bytes()) for rel in python_files(root, excludes)]


def _analyze_one(job: tuple[str, bytes, Thresholds]) -> FileReport:
    path, data, limits = job
    report = analyze_source(path, data)
    report.findings = findings_for(report, limits)
    report.comments = []  # read into findings; no need to ship them back to the parent
    return report


def _pool_allowed() -> bool:
    # django-q2 runs tasks in daemonic processes, which may not have children.
    return not multiprocessing.current_process().daemon


def analyze_sources(
    files: list[SourceFile],
    limits: Thresholds,
    *,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Iterator[FileReport]:
    """Reports for `files`, in no particular order; `progress(n)` after each one."""
    jobs = [(f.path, f.data, limits) for f in files]
    if workers <= 1 or len(jobs) < 2 * workers or not _pool_allowed():
        for job in jobs:
            yield _analyze_one(job)
            if progress:
                progress(1)
        return
    # Forking is much cheaper than spawning fresh interpreters that re-import radon; the
    # children only compute, they never touch the parent's database connections.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    chunk = max(1, min(32, len(jobs) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        for report in pool.map(_analyze_one, jobs, chunksize=chunk):
            yield report
            if progress:
                progress(1)
