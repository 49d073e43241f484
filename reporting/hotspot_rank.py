"""Hotspots: which modules are complex, change often and matter at run time. Framework-free.

score = complexity x changes x impact, where
- complexity is the module's total cyclomatic complexity (code health's last scan),
- changes is the number of commits touching the file in the last N days (`git log`),
- impact is 1 + the module's share of the requests + its share of the 5xx answers + its worst p95
  as a share of the slowest module's p95 (so 1-4; 1 when request monitoring knows nothing of it).

A module nobody changed scores 0: complex but quiet code is a risk only when someone has to touch
it. Ties are broken by path so the ranking is the same every time.
"""

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

GIT_TIMEOUT = 60
MAX_DAYS = 3650
MAX_GIT_OUTPUT = 50_000_000  # bytes of `git log` read; a bigger history is cut (and said so)


class GitError(Exception):
    pass


@dataclass(frozen=True)
class Runtime:
    requests: int = 0
    errors: int = 0
    p95: float | None = None  # seconds, the worst route of the module


@dataclass(frozen=True)
class Hotspot:
    path: str
    complexity: int
    changes: int
    impact: float
    score: float
    requests: int = 0
    errors: int = 0
    p95: float | None = None


def change_counts(repo: Path, *, days: int, now: datetime | None = None) -> dict[str, int]:
    """Commits touching each file (paths relative to `repo`, which may be a sub-directory of the
    work tree) in the last `days` days."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1-{MAX_DAYS}")
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    args = [
        "git",
        "-C",
        str(repo),
        "log",
        f"--since={since.astimezone(UTC).isoformat()}",
        "--name-only",
        "--relative",  # only files under `repo`, named relative to it
        "--no-renames",
        "--format=%x00",  # a NUL line starts each commit: file names never contain one
    ]
    try:
        done = subprocess.run(args, capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git log took over {GIT_TIMEOUT} s") from exc
    if done.returncode != 0:
        raise GitError(done.stderr.decode(errors="replace").strip() or "git log failed")
    counts: dict[str, int] = {}
    for commit in done.stdout[:MAX_GIT_OUTPUT].split(b"\0"):
        # A merge lists no files with --name-only; a file is counted once per commit.
        for name in {line for line in commit.decode(errors="surrogateescape").splitlines() if line.strip()}:
            counts[name] = counts.get(name, 0) + 1
    return counts


def rank(
    complexity: dict[str, int], changes: dict[str, int], runtime: dict[str, Runtime] | None = None
) -> list[Hotspot]:
    """Modules of `complexity` (path -> total complexity), highest score first."""
    runtime = runtime or {}
    total_requests = sum(r.requests for r in runtime.values())
    total_errors = sum(r.errors for r in runtime.values())
    slowest = max((r.p95 for r in runtime.values() if r.p95), default=None)
    spots = []
    for path, cx in complexity.items():
        rt = runtime.get(path, Runtime())
        impact = 1.0
        if total_requests:
            impact += rt.requests / total_requests
        if total_errors:
            impact += rt.errors / total_errors
        if slowest and rt.p95:
            impact += rt.p95 / slowest
        n = changes.get(path, 0)
        spots.append(Hotspot(path, cx, n, round(impact, 4), round(cx * n * impact, 4), rt.requests, rt.errors, rt.p95))
    spots.sort(key=lambda s: (-s.score, -s.complexity, s.path))
    return spots


def module_path(dotted: str) -> str:
    """`monitoring.views` -> `monitoring/views.py` (a package's views in `__init__` are rare enough)."""
    return dotted.replace(".", "/") + ".py"
