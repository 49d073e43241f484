"""What cleanup may remove, found and removed without ever leaving the configured roots.

Framework-free. The rules that keep it safe on a production host:
- a root must be an absolute, existing directory and must not be (or pass through) a symlink:
  its real path must equal its absolute path, so "inside the root" means one thing;
- walking never follows a symlink, and a symlink is never removed or matched (removing one is
  harmless, but a link named `x.log` is rarely what a glob meant);
- patterns are relative to a root, never absolute, never with a `..` part, and are matched with
  RE2 (linear time whatever the pattern: they come from people);
- right before removing, each path is checked again (lstat: still a regular file or directory,
  not a link; its real path still inside the root), so a path swapped for a link between plan
  and apply is left alone.
"""

import gzip
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import re2

MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 200


class PatternError(ValueError):
    pass


def glob_check(pattern: str) -> str:
    """The pattern if it is a safe relative glob; raises PatternError saying why not."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"a pattern has 1 to {MAX_PATTERN_LENGTH} characters")
    if "\x00" in pattern:
        raise PatternError("a pattern cannot contain NUL")
    if pattern.startswith(("/", "\\", "~")) or (len(pattern) > 1 and pattern[1] == ":"):
        raise PatternError(f"{pattern!r} is absolute: patterns are relative to a cleanup root")
    if ".." in PurePosixPath(pattern.replace("\\", "/")).parts:
        raise PatternError(f"{pattern!r} has a '..' part: patterns cannot leave their root")
    return pattern


def glob_regex(pattern: str) -> str:
    """Translate a glob to an RE2 pattern over root-relative POSIX paths: `*` and `?` stay within
    one path part, `**/` spans parts, `[...]` is a character class. A pattern without `/`
    matches the file name in any directory (like .gitignore)."""
    glob_check(pattern)
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re2.escape(c))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[{'^/' if negate else ''}{body}]")
                i = end
        else:
            out.append(re2.escape(c))
        i += 1
    regex = "".join(out)
    return regex if "/" in pattern else f"(?:.*/)?{regex}"


class Globs:
    def __init__(self, patterns):
        patterns = list(patterns)
        if len(patterns) > MAX_PATTERNS:
            raise PatternError(f"at most {MAX_PATTERNS} patterns")
        regexes = [glob_regex(p) for p in patterns]
        self._match = re2.compile("|".join(f"(?:{r})" for r in regexes)).fullmatch if regexes else None

    def __call__(self, relpath: str) -> bool:
        return bool(self._match and self._match(relpath))


@dataclass(frozen=True)
class Rules:
    pycache: bool = True  # __pycache__ directories
    pyc: bool = True  # stray *.pyc / *.pyo outside __pycache__
    log_globs: tuple[str, ...] = ()  # e.g. ("*.log", "*.log.[0-9]")
    log_days: int = 14
    log_action: str = "delete"  # or "compress" (gzip beside it, original removed)
    temp_globs: tuple[str, ...] = ()  # e.g. ("tmp/**", "*.tmp")
    max_items: int = 10_000


@dataclass(frozen=True)
class Item:
    root: str
    path: str  # absolute
    kind: str  # pycache | pyc | log | temp
    action: str  # delete | compress
    bytes: int

    def as_dict(self) -> dict:
        return {"root": self.root, "path": self.path, "kind": self.kind, "action": self.action, "bytes": self.bytes}


def root_problem(root: str) -> str | None:
    """Why `root` cannot be a cleanup root, or None."""
    if not os.path.isabs(root):
        return f"{root}: not an absolute path"
    normal = os.path.normpath(root)
    if not os.path.isdir(normal):
        return f"{root}: not an existing directory"
    if os.path.realpath(normal) != normal:
        return f"{root}: is or passes through a symlink (real path {os.path.realpath(normal)})"
    if normal == os.path.sep:
        return f"{root}: the file system root cannot be a cleanup root"
    return None


def inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real.startswith(root.rstrip(os.sep) + os.sep)


def _tree_bytes(path: str) -> int:
    total = 0
    for directory, dirs, files in os.walk(path, followlinks=False):
        for name in files:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(directory, d))]
    return total


def _walk(root: str) -> Iterator[tuple[str, str, os.DirEntry]]:
    """(relative posix path, absolute path, entry) for every entry under root; links not followed."""
    stack = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            yield rel, entry.path, entry
            if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                stack.append((entry.path, rel + "/"))


def plan_cleanup(roots, rules: Rules, *, now: float | None = None) -> tuple[list[Item], list[str]]:
    """Items that would go, and problems (roots refused). Reads only."""
    now = time.time() if now is None else now
    logs, temps = Globs(rules.log_globs), Globs(rules.temp_globs)
    cutoff = now - rules.log_days * 86400
    items: list[Item] = []
    problems: list[str] = []
    for root in roots:
        problem = root_problem(root)
        if problem:
            problems.append(problem)
            continue
        root = os.path.normpath(root)
        for rel, path, entry in _walk(root):
            if len(items) >= rules.max_items:
                problems.append(f"stopped at {rules.max_items} items (max_items)")
                return items, problems
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if rules.pycache and entry.name == "__pycache__":
                    items.append(Item(root, path, "pycache", "delete", _tree_bytes(path)))
                continue
            if not entry.is_file(follow_symlinks=False):
                continue  # sockets, fifos, devices: never ours to remove
            info = entry.stat(follow_symlinks=False)
            if rules.pyc and entry.name.endswith((".pyc", ".pyo")):
                items.append(Item(root, path, "pyc", "delete", info.st_size))
            elif logs(rel) and info.st_mtime < cutoff and not entry.name.endswith(".gz"):
                items.append(Item(root, path, "log", rules.log_action, info.st_size))
            elif temps(rel):
                items.append(Item(root, path, "temp", "delete", info.st_size))
    return items, problems


def _still_safe(item: Item) -> str | None:
    if root_problem(item.root):
        return "root changed"
    try:
        info = os.lstat(item.path)
    except FileNotFoundError:
        return "already gone"
    if stat.S_ISLNK(info.st_mode):
        return "is now a symlink"
    if not inside(item.root, item.path):
        return "resolves outside its root"
    if item.kind == "pycache" and not stat.S_ISDIR(info.st_mode):
        return "no longer a directory"
    if item.kind != "pycache" and not stat.S_ISREG(info.st_mode):
        return "no longer a regular file"
    return None


def _compress(path: str) -> int:
    """gzip beside the file (same mode), then remove it; returns bytes freed."""
    target = path + ".gz"
    if os.path.lexists(target):
        raise FileExistsError(f"{target} exists")
    before = os.lstat(path).st_size
    # O_NOFOLLOW: never write through a link planted where the .gz goes.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with open(path, "rb") as source, os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
        shutil.copyfileobj(source, out)
    shutil.copymode(path, target)
    after = os.lstat(target).st_size
    os.unlink(path)
    return max(0, before - after)


def apply_cleanup(items: list[Item], log: Callable[[str], None]) -> tuple[list[str], int, list[str]]:
    """Remove (or compress) each planned item that is still safe to touch.
    Returns (paths done, bytes freed, errors)."""
    done: list[str] = []
    freed = 0
    errors: list[str] = []
    for item in items:
        why_not = _still_safe(item)
        if why_not:
            log(f"skipped {item.path}: {why_not}")
            continue
        try:
            if item.kind == "pycache":
                size = _tree_bytes(item.path)
                shutil.rmtree(item.path)  # removes links inside, never what they point to
            elif item.action == "compress":
                size = _compress(item.path)
            else:
                size = os.lstat(item.path).st_size
                os.unlink(item.path)
        except OSError as exc:
            errors.append(f"{item.path}: {exc}")
            log(f"failed {item.path}: {exc}")
            continue
        done.append(item.path)
        freed += size
        log(f"{'compressed' if item.action == 'compress' else 'removed'} {item.path} ({size} bytes freed)")
    return done, freed, errors
