"""Read a git repository's history without touching its working tree: `git rev-list` for the
commits, `git ls-tree` for each commit's files and one `git cat-file --batch` per commit for
their contents."""

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from codehealth.analyzer.tree import Excludes, SourceFile

GIT_TIMEOUT = 120


class GitError(Exception):
    pass


@dataclass(frozen=True)
class Commit:
    sha: str
    committed_at: datetime
    subject: str


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],  # noqa: S607 - git from PATH, as a user would run it
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} timed out") from exc
    if done.returncode != 0:
        raise GitError(done.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
    return done.stdout


def is_git_repository(path: Path) -> bool:
    try:
        return _git(path, "rev-parse", "--is-inside-work-tree").strip() == b"true"
    except GitError:
        return False


def head_commit(path: Path) -> str:
    """The checked-out commit, or '' when path is not in a git work tree (or has no commits)."""
    try:
        return _git(path, "rev-parse", "--verify", "-q", "HEAD").decode().strip()
    except GitError:
        return ""


def git_commits(repo: Path, count: int, rev: str = "HEAD") -> list[Commit]:
    """The last `count` commits reachable from rev, oldest first."""
    out = _git(repo, "rev-list", f"--max-count={count}", "--no-commit-header", "--format=%H%x1f%ct%x1f%s", rev)
    commits = []
    for line in out.decode(errors="replace").splitlines():
        sha, stamp, subject = line.split("\x1f", 2)
        commits.append(Commit(sha, datetime.fromtimestamp(int(stamp), tz=UTC), subject))
    commits.reverse()
    return commits


def git_files_at(repo: Path, sha: str, excludes: Iterable[str], subdir: str = "") -> list[SourceFile]:
    """The .py files of a commit (paths relative to `subdir`), read with one cat-file batch."""
    excluded = Excludes(excludes)
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", sha)
    prefix = f"{subdir.strip('/')}/" if subdir.strip("/") else ""
    wanted: list[tuple[str, str]] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, blob = meta.split(b" ")
        path = name.decode(errors="surrogateescape")
        if kind != b"blob" or mode == b"120000" or not path.endswith(".py") or not path.startswith(prefix):
            continue
        rel = path[len(prefix) :]
        if not excluded(rel):
            wanted.append((rel, blob.decode()))
    contents = _cat_blobs(repo, [blob for _, blob in wanted])
    return [SourceFile(rel, contents[blob]) for rel, blob in sorted(wanted)]


def _cat_blobs(repo: Path, blobs: list[str]) -> dict[str, bytes]:
    unique = list(dict.fromkeys(blobs))
    if not unique:
        return {}
    out = _git(repo, "cat-file", "--batch", stdin=("\n".join(unique) + "\n").encode())
    contents: dict[str, bytes] = {}
    pos = 0
    for blob in unique:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split(b" ")
        if len(header) != 3:
            raise GitError(f"git cat-file: {header_end and out[pos:header_end].decode(errors='replace')}")
        size = header[2]
        start = header_end + 1
        contents[blob] = out[start : start + int(size)]
        pos = start + int(size) + 1  # content is followed by a newline
    return contents


def repository_root(path: Path) -> tuple[Path, str]:
    """(top level of the git work tree, path of `path` inside it)."""
    top = Path(_git(path, "rev-parse", "--show-toplevel").decode().strip())
    inside = path.resolve().relative_to(top.resolve()).as_posix()
    return top, "" if inside == "." else inside
