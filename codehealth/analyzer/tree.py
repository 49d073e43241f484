"""Find the Python files of a tree and analyse the changed ones in worker processes."""

import hashlib
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from fnmatch import translate
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from codehealth.analyzer.debt import Thresholds, findings_for

if TYPE_CHECKING:
    from codehealth.analyzer.source import FileReport

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
# Timestamps of some file systems are coarse (FAT: 2 s); a file younger than this is read again.
RACY_SECONDS = 2.0


class Excludes:
    """Compiled exclude patterns: one regex for name patterns, one for path patterns."""

    def __init__(self, patterns: Iterable[str]):
        patterns = tuple(patterns)
        names = [translate(p) for p in patterns if "/" not in p]
        paths = [translate(p) for p in patterns if "/" in p]
        self._name = re.compile("|".join(names)).match if names else None
        self._path = re.compile("|".join(paths)).match if paths else None

    def name(self, name: str) -> bool:
        return bool(self._name and self._name(name))

    def path(self, relpath: str) -> bool:
        return bool(self._path and self._path(relpath))

    def __call__(self, relpath: str) -> bool:
        """Whole check of a path (every component), for paths not found by walking."""
        return self.path(relpath) or any(self.name(part) for part in PurePosixPath(relpath).parts)


def is_excluded(relpath: str, patterns: Iterable[str]) -> bool:
    return Excludes(patterns)(relpath)


def _walk(root: Path, excludes: Iterable[str], found: Callable[[str, os.DirEntry], None]) -> None:
    """Call found(relative posix path, entry) for each .py file under root; symlinks are not
    followed. While walking, parents were already checked, so only the new name is matched, and
    only for directories and .py files (a tree has many other files: translations, data)."""
    rules = Excludes(excludes)

    def walk(directory: str, prefix: str) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    rel = f"{prefix}{name}"
                    if not (rules.name(name) or rules.path(rel)):
                        walk(entry.path, f"{rel}/")
                elif name.endswith(".py") and entry.is_file(follow_symlinks=False):
                    rel = f"{prefix}{name}"
                    if not (rules.name(name) or rules.path(rel)):
                        found(rel, entry)

    walk(str(root), "")


def python_files(root: Path, excludes: Iterable[str]) -> list[str]:
    """Relative posix paths of the .py files under root, sorted."""
    paths: list[str] = []
    _walk(root, excludes, lambda rel, entry: paths.append(rel))
    paths.sort()
    return paths


def stat_signature(st: os.stat_result, now: float) -> str:
    """Size, mtime, ctime and inode of a file: while they stay the same, so does its content.
    "" (no signature) for a file modified less than RACY_SECONDS ago: a second write within the
    file system's timestamp granularity could change the content and leave all four as they were."""
    if st.st_mtime_ns >= (now - RACY_SECONDS) * 1_000_000_000:
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def stat_tree(root: Path, excludes: Iterable[str]) -> list[tuple[str, str]]:
    """(relative path, stat signature) of the .py files under root, sorted by path. One lstat
    per file, nothing read."""
    now = time.time()
    listing: list[tuple[str, str]] = []
    _walk(
        root, excludes, lambda rel, entry: listing.append((rel, stat_signature(entry.stat(follow_symlinks=False), now)))
    )
    listing.sort()
    return listing


def content_hash(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # relative, posix
    data: bytes
    content_hash: str = field(init=False)  # computed once: a scan looks it up several times

    def __post_init__(self):
        object.__setattr__(self, "content_hash", content_hash(self.data))


def read_files(root: Path, paths: Iterable[str]) -> list[SourceFile]:
    base = str(root)
    files = []
    for rel in paths:
        with open(os.path.join(base, rel), "rb") as handle:
            files.append(SourceFile(rel, handle.read()))
    return files


def read_tree(root: Path, excludes: Iterable[str]) -> list[SourceFile]:
    return read_files(root, python_files(root, excludes))


def _analyze_one(job: tuple[str, bytes, Thresholds]) -> "FileReport":
    from codehealth.analyzer.source import analyze_source  # loaded by analyze_sources (see there)

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
) -> Iterator["FileReport"]:
    """Reports for `files`, in no particular order; `progress(n)` after each one."""
    if not files:
        return
    # The analysis (radon, the raw-count scanner) is imported only when there is something to
    # analyse, before any worker forks: an unchanged re-scan starts without it.
    import codehealth.analyzer.source  # noqa: F401

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
