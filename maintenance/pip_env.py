"""What the executors ask of a target environment's pip: outdated packages, available versions,
the exact freeze, installs and an exact restore. Every call is `<python> -m pip ...` with the
target's interpreter (so the environment's own pip and its configuration: pip.conf in the venv,
PIP_* variables of the worker, decide which index upgrades come from), an argument list and a
timeout within the run's deadline (`run_logged`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from maintenance.executors.base import CommandFailed, RunContext, run_logged
from maintenance.osv import normalize

PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]


class RestoreFailed(Exception):
    """The environment could not be put back to its snapshot (the difference is in the message)."""


# What commands run for a target environment inherit from the worker. An allowlist, not the
# whole environment: the portal's own settings (DATABASE_URL, SECRET_KEY, EMAIL_URL, ...) must
# not reach the target's test suite, which might well read DATABASE_URL and test against the
# portal's database, nor a package's build script.
PASSED_VARIABLES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "TERM"}
    | {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    | {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy"}
)
PASSED_PREFIXES = ("LC_", "PIP_", "POETRY_", "XDG_")


def worker_env() -> dict[str, str]:
    """The allowlisted part of the worker's environment."""
    return {k: v for k, v in os.environ.items() if k in PASSED_VARIABLES or k.startswith(PASSED_PREFIXES)}


def target_env(ctx: RunContext) -> dict[str, str]:
    """`worker_env()` with the target venv activated: a verification command such as ["pytest"]
    or ["python", "-m", "app", "check"] runs the target's own programs."""
    env = worker_env()
    bin_dir = str(Path(ctx.target.python).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", os.defpath)
    env["VIRTUAL_ENV"] = str(Path(bin_dir).parent)
    return env


def pip(ctx: RunContext, *args: str, timeout: float | None = None, check: bool = True):
    args = [ctx.target.python, *PIP, *args]
    return run_logged(ctx, args, cwd=ctx.target.project_dir or None, timeout=timeout, check=check, env=target_env(ctx))


@dataclass(frozen=True)
class Outdated:
    name: str  # normalized
    version: str
    latest: str


def outdated(ctx: RunContext, *, timeout: float) -> list[Outdated]:
    done = pip(ctx, "list", "--outdated", "--format=json", timeout=timeout)
    try:
        rows = json.loads(done.stdout or "[]")
    except ValueError as exc:
        raise CommandFailed(["pip list --outdated"], done.returncode, done.stdout[-2000:]) from exc
    return [Outdated(normalize(r["name"]), str(r["version"]), str(r["latest_version"])) for r in rows]


_AVAILABLE = re.compile(r"^Available versions:\s*(.*)$", re.MULTILINE)


def available_versions(ctx: RunContext, name: str, *, timeout: float) -> list[str]:
    """Every version the environment's index offers for `name`, newest first (`pip index
    versions`, which pip marks experimental: when its output cannot be read, [] — the caller then
    only knows the latest version from `pip list --outdated`)."""
    done = pip(ctx, "index", "versions", name, timeout=timeout, check=False)
    found = _AVAILABLE.search(done.stdout or "")
    if done.returncode != 0 or not found:
        return []
    versions = []
    for text in found.group(1).split(","):
        try:
            versions.append(Version(text.strip()))
        except InvalidVersion:
            continue
    return [str(v) for v in sorted(versions, reverse=True)]


def freeze(ctx: RunContext, *, timeout: float) -> list[str]:
    """`pip freeze --all` (pip, setuptools and wheel included: a restore puts them back too), sorted."""
    done = pip(ctx, "freeze", "--all", timeout=timeout)
    return sorted(line for line in done.stdout.splitlines() if line.strip() and not line.startswith("#"))


# Run by the target interpreter: its distributions from their installed metadata. A Python start
# costs a tenth of a pip command's, and pip's own import is most of what pip costs.
DISTRIBUTIONS_SCRIPT = """
import importlib.metadata as m, json, sys
out = {}
for dist in m.distributions():
    name = dist.metadata["Name"]
    if not name:
        continue
    top = (dist.read_text("top_level.txt") or "").split()
    if not top:
        for path in dist.files or ():
            parts = path.parts
            if len(parts) == 1 and parts[0].endswith(".py"):
                top.append(parts[0][:-3])
            elif len(parts) > 1 and not parts[0].endswith((".dist-info", ".egg-info", ".data")) and parts[0] != "..":
                top.append(parts[0])
    out.setdefault(name, {"version": dist.version, "top_level": sorted(set(top))})
json.dump(out, sys.stdout)
"""


def distributions(ctx: RunContext, *, timeout: float) -> dict[str, dict]:
    """{normalized name: {"version", "top_level": [importable top-level names]}} of every
    distribution installed in the target environment, read by its own interpreter
    (top_level.txt, else the top-level entries of RECORD)."""
    done = run_logged(ctx, [ctx.target.python, "-I", "-c", DISTRIBUTIONS_SCRIPT], timeout=timeout, env=worker_env())
    try:
        raw = json.loads(done.stdout)
    except ValueError as exc:
        raise CommandFailed([ctx.target.python, "-c", "<distributions>"], done.returncode, done.stdout[-2000:]) from exc
    found: dict[str, dict] = {}
    for name, info in raw.items():
        found.setdefault(normalize(name), {"version": str(info["version"]), "top_level": list(info["top_level"])})
    return found


def installed(ctx: RunContext, *, timeout: float) -> dict[str, str]:
    """{normalized name: version} of every installed distribution."""
    return {name: info["version"] for name, info in distributions(ctx, timeout=timeout).items()}


def _name_of(line: str) -> str:
    """The project name of a freeze line: `a==1`, `a @ file:///...`, `-e git+...#egg=a`."""
    if line.startswith("-e "):
        egg = re.search(r"#egg=([A-Za-z0-9._-]+)", line)
        return normalize(egg.group(1)) if egg else line
    return normalize(re.split(r"\s*(?:==|===|@)\s*", line, maxsplit=1)[0])


def restore(ctx: RunContext, snapshot: list[str], *, timeout: float) -> list[str]:
    """Put the environment back to `snapshot` exactly: reinstall its lines without dependency
    resolution, uninstall what was added since, then check the freeze. Returns the freeze after;
    raises RestoreFailed naming the lines that still differ."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="freeze-", delete=False) as handle:
        handle.write("\n".join(snapshot) + "\n")
        requirements = handle.name
    try:
        pip(ctx, "install", "--no-deps", "-r", requirements, timeout=timeout)
    finally:
        os.unlink(requirements)
    before = {_name_of(line) for line in snapshot}
    added = sorted(set(installed(ctx, timeout=timeout)) - before)
    if added:
        pip(ctx, "uninstall", "-y", *added, timeout=timeout)
    after = freeze(ctx, timeout=timeout)
    if after != sorted(snapshot):
        missing = sorted(set(snapshot) - set(after))
        extra = sorted(set(after) - set(snapshot))
        raise RestoreFailed(f"the environment differs from its snapshot: missing {missing}, extra {extra}")
    return after


SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
MAX_INDEX_BYTES = 20 * 1024 * 1024  # the JSON page of a project with thousands of files


def release_dates(index_url: str, name: str, *, timeout: float) -> dict[str, datetime]:
    """{version: first upload time} from a package index's JSON simple API (PEP 691 pages with
    PEP 700 `upload-time`, as PyPI serves them). An index that does not say (a plain HTML index,
    a find-links folder) gives {}: the release age is then unknown."""
    url = f"{index_url.rstrip('/')}/{normalize(name)}/"
    try:
        response = httpx.get(url, headers={"Accept": SIMPLE_JSON}, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError:
        return {}
    if response.status_code != 200 or SIMPLE_JSON not in response.headers.get("content-type", ""):
        return {}
    if len(response.content) > MAX_INDEX_BYTES:
        return {}
    try:
        files = response.json().get("files") or []
    except ValueError:
        return {}
    dates: dict[str, datetime] = {}
    for entry in files:
        if not isinstance(entry, dict) or not entry.get("upload-time"):
            continue
        filename = str(entry.get("filename") or "")
        try:
            if filename.endswith(".whl"):
                version = parse_wheel_filename(filename)[1]
            else:
                version = parse_sdist_filename(filename)[1]
            moment = datetime.fromisoformat(str(entry["upload-time"]).replace("Z", "+00:00"))
        except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        key = str(version)
        if key not in dates or moment < dates[key]:
            dates[key] = moment
    return dates
