"""Offline vulnerability matching against a directory of OSV advisories. Framework-free.

The directory is the PyPA advisory database's layout (`vulns/<package>/<ID>.yaml`) or a flat
folder of OSV files (`<ID>.json`, as osv.dev's per-ecosystem exports unpack). YAML is read with
PyYAML's BaseLoader: every scalar stays a string, so a version written `1.10` is not read as the
float 1.1, and no tag can build an object.

Matching follows the OSV schema: a version is affected when it is listed in `affected[].versions`
or falls in an `ECOSYSTEM` range (events `introduced`, `fixed`, `last_affected`, evaluated in
version order; `"0"` is before every version). `GIT` ranges name commits, not releases, and are
not evaluated (the PyPA entries list the affected releases explicitly as well). Withdrawn
advisories are ignored. The same vulnerability under several ids (PYSEC, GHSA, CVE) is one finding:
`findings_merge` joins findings of one package whose id sets overlap.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version

try:
    _Loader = yaml.CBaseLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.BaseLoader

ECOSYSTEM = "PyPI"
SUFFIXES = (".json", ".yaml", ".yml")
# A real advisory is a few kB (the longest in the PyPA database ~60 kB); a bigger file is not read.
MAX_FILE_BYTES = 2 * 1024 * 1024
# Files of a flat directory read at most (osv.dev's PyPI export holds ~15,000).
MAX_FLAT_FILES = 100_000
MAX_SUMMARY = 300
# Which id names a merged finding: the PyPA database's own first, then GitHub's, then CVE.
ID_PREFERENCE = ("PYSEC-", "GHSA-", "CVE-")


class AdvisoryError(ValueError):
    """A file that is not a usable OSV advisory (said in the audit's `incomplete` list)."""


def normalize(name: str) -> str:
    """PEP 503 normalized project name: `Foo_Bar.baz` → `foo-bar-baz`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


@dataclass(frozen=True)
class Affected:
    package: str  # normalized
    # Each range: its events in version order, as (kind, Version | None for "0").
    ranges: tuple[tuple[tuple[str, Version | None], ...], ...] = ()
    # Explicit affected versions: Version objects (1.2 == 1.2.0) where PEP 440, else the text.
    versions: frozenset[Version | str] = frozenset()

    def covers(self, version: str) -> bool:
        parsed = _version(version)
        if (parsed if parsed is not None else version) in self.versions:
            return True
        return parsed is not None and any(_in_range(parsed, events) for events in self.ranges)

    def fixed_after(self, version: str) -> list[str]:
        """Versions that fix this, later than `version`, from the ranges' `fixed` events."""
        parsed = _version(version)
        found = {
            at
            for events in self.ranges
            for kind, at in events
            if kind == "fixed" and at is not None and (parsed is None or at > parsed)
        }
        return [str(v) for v in sorted(found)]


def _in_range(version: Version, events: tuple[tuple[str, Version | None], ...]) -> bool:
    affected = False
    for kind, at in events:
        if kind == "introduced":
            if at is None or version >= at:
                affected = True
        elif kind == "fixed":
            if at is not None and version >= at:
                affected = False
        elif kind == "last_affected" and at is not None and version > at:
            affected = False
    return affected


@dataclass(frozen=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    affected: tuple[Affected, ...]
    source: str = ""  # the file it was read from


def _events(raw_events, where: str) -> tuple[tuple[str, Version | None], ...] | None:
    """A range's events in evaluation order, or None when a version is not PEP 440 (such a range
    cannot be evaluated; the advisory's explicit versions still apply)."""
    events: list[tuple[str, Version | None]] = []
    for event in raw_events or ():
        if not isinstance(event, dict) or len(event) != 1:
            raise AdvisoryError(f"{where}: each event is one of introduced, fixed, last_affected, limit")
        ((kind, value),) = event.items()
        if kind == "limit":
            continue  # only meaningful for GIT ranges
        if kind not in ("introduced", "fixed", "last_affected"):
            raise AdvisoryError(f"{where}: unknown event {kind!r}")
        if kind == "introduced" and str(value) == "0":
            events.append((kind, None))
            continue
        parsed = _version(str(value))
        if parsed is None:
            return None
        events.append((kind, parsed))
    # "0" first; at one version, an introduction comes after a fix or last_affected it follows.
    order = {"fixed": 0, "last_affected": 0, "introduced": 1}
    return tuple(sorted(events, key=lambda e: (e[1] is not None, e[1] or Version("0"), order[e[0]])))


def advisory_parse(data, *, source: str = "") -> Advisory:
    """An OSV document (decoded JSON or YAML) as an Advisory; raises AdvisoryError."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise AdvisoryError(f"{source or 'advisory'}: not an OSV document (no id)")
    ident = data["id"]
    aliases = data.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise AdvisoryError(f"{ident}: aliases must be a list of ids")
    summary = data.get("summary") or (data.get("details") or "").strip().split("\n\n")[0]
    summary = " ".join(str(summary).split())[:MAX_SUMMARY]
    affected: list[Affected] = []
    for index, entry in enumerate(data.get("affected") or ()):
        where = f"{ident}: affected[{index}]"
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            raise AdvisoryError(f"{where}.package: needs a name")
        if package.get("ecosystem") != ECOSYSTEM:
            continue
        ranges = []
        for r_index, raw in enumerate(entry.get("ranges") or ()):
            if not isinstance(raw, dict):
                raise AdvisoryError(f"{where}.ranges[{r_index}]: not an object")
            if raw.get("type") != "ECOSYSTEM":
                continue
            events = _events(raw.get("events"), f"{where}.ranges[{r_index}]")
            if events is not None:
                ranges.append(events)
        versions = set()
        for text in entry.get("versions") or ():
            parsed = _version(str(text))
            versions.add(parsed if parsed is not None else str(text))
        affected.append(Affected(normalize(package["name"]), tuple(ranges), frozenset(versions)))
    withdrawn = data.get("withdrawn")
    if withdrawn:
        affected = []  # kept parseable, but it no longer matches anything
    return Advisory(ident, tuple(sorted(set(aliases) - {ident})), summary, tuple(affected), source)


def advisory_read(path: Path) -> Advisory:
    """One advisory file (.json, .yaml or .yml)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AdvisoryError(f"{path.name}: {size} bytes, more than the {MAX_FILE_BYTES} read")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdvisoryError(f"{path.name}: {exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)  # noqa: S506 (BaseLoader builds no objects)
    except (ValueError, yaml.YAMLError) as exc:
        raise AdvisoryError(f"{path.name}: {exc}") from exc
    return advisory_parse(data, source=str(path))


@dataclass
class Loaded:
    advisories: list[Advisory] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be read, and why


def advisories_load(root: str | os.PathLike, names: Iterable[str]) -> Loaded:
    """The advisories that may concern these packages. In the PyPA layout only the folders of
    these packages are read; loose files (a flat export) are all read. Raises AdvisoryError when
    `root` is not a readable directory."""
    base = Path(root)
    if (base / "vulns").is_dir():
        base = base / "vulns"
    if not base.is_dir():
        raise AdvisoryError(f"{root}: not a directory")
    wanted = {normalize(n) for n in names}
    loaded = Loaded()
    files: list[Path] = []
    flat = 0
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError as exc:
        raise AdvisoryError(f"{root}: {exc}") from exc
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if normalize(entry.name) in wanted:
                files += sorted(p for p in Path(entry.path).iterdir() if p.suffix in SUFFIXES)
        elif entry.name.endswith(SUFFIXES) and not entry.name.startswith("."):
            flat += 1
            if flat > MAX_FLAT_FILES:
                loaded.errors.append(f"more than {MAX_FLAT_FILES} advisory files at the top: the rest not read")
                break
            files.append(Path(entry.path))
    for path in files:
        try:
            loaded.advisories.append(advisory_read(path))
        except AdvisoryError as exc:
            loaded.errors.append(str(exc))
    return loaded


@dataclass
class Finding:
    package: str  # normalized name
    version: str
    id: str
    aliases: list[str]
    summary: str
    fix_versions: list[str]
    sources: list[str] = field(default_factory=list)  # "osv-directory", "pip-audit"

    @property
    def fix_exists(self) -> bool:
        return bool(self.fix_versions)

    def ids(self) -> set[str]:
        return {self.id, *self.aliases}

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "aliases": self.aliases,
            "package": self.package,
            "version": self.version,
            "summary": self.summary,
            "fix_versions": self.fix_versions,
            "fix_exists": self.fix_exists,
            "sources": self.sources,
        }


def advisories_match(installed: dict[str, str], advisories: Iterable[Advisory]) -> list[Finding]:
    """Findings for installed packages ({name: version}); aliases not merged yet."""
    versions = {normalize(name): version for name, version in installed.items()}
    findings = []
    for advisory in advisories:
        for affected in advisory.affected:
            version = versions.get(affected.package)
            if version is None or not affected.covers(version):
                continue
            findings.append(
                Finding(
                    package=affected.package,
                    version=version,
                    id=advisory.id,
                    aliases=list(advisory.aliases),
                    summary=advisory.summary,
                    fix_versions=affected.fixed_after(version),
                    sources=["osv-directory"],
                )
            )
    return findings


def _preferred(ids: set[str]) -> str:
    for prefix in ID_PREFERENCE:
        chosen = sorted(i for i in ids if i.startswith(prefix))
        if chosen:
            return chosen[0]
    return sorted(ids)[0]


def findings_merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per vulnerability per package: findings whose ids or aliases overlap (directly
    or through a third) are merged; fix versions and sources are joined."""
    by_package: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        by_package.setdefault((finding.package, finding.version), []).append(finding)
    merged: list[Finding] = []
    for (package, version), group in sorted(by_package.items()):
        clusters: list[tuple[set[str], list[Finding]]] = []
        for finding in group:
            ids = finding.ids()
            joined = [c for c in clusters if c[0] & ids]
            cluster = (set(ids), [finding])
            for other in joined:
                clusters.remove(other)
                cluster[0].update(other[0])
                cluster[1].extend(other[1])
            clusters.append(cluster)
        for ids, members in clusters:
            ident = _preferred(ids)
            fixes = {v for m in members for v in m.fix_versions}
            merged.append(
                Finding(
                    package=package,
                    version=version,
                    id=ident,
                    aliases=sorted(ids - {ident}),
                    summary=next((m.summary for m in members if m.summary), ""),
                    fix_versions=sorted(fixes, key=lambda v: (_version(v) is None, _version(v) or Version("0"), v)),
                    sources=sorted({s for m in members for s in m.sources}),
                )
            )
    merged.sort(key=lambda f: (f.package, f.id))
    return merged


@dataclass
class PipAuditResult:
    findings: list[Finding] = field(default_factory=list)
    audited: dict[str, str] = field(default_factory=dict)  # normalized name -> version
    skipped: list[dict] = field(default_factory=list)  # [{"package", "reason"}]


def pip_audit_parse(data) -> PipAuditResult:
    """pip-audit's `-f json` output: dependencies with their vulnerabilities, and the ones it
    skipped (not on the index, editable, ...) with its skip_reason. Raises AdvisoryError when the
    document is not that shape."""
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        raise AdvisoryError("pip-audit output: no dependencies list")
    result = PipAuditResult()
    for index, dep in enumerate(data["dependencies"]):
        if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
            raise AdvisoryError(f"pip-audit output: dependencies[{index}] has no name")
        name = normalize(dep["name"])
        if dep.get("skip_reason"):
            result.skipped.append({"package": name, "reason": str(dep["skip_reason"])[:MAX_SUMMARY]})
            continue
        version = str(dep.get("version") or "")
        result.audited[name] = version
        for vuln in dep.get("vulns") or ():
            if not isinstance(vuln, dict) or not vuln.get("id"):
                raise AdvisoryError(f"pip-audit output: dependencies[{index}].vulns has an entry without id")
            ident = str(vuln["id"])
            result.findings.append(
                Finding(
                    package=name,
                    version=version,
                    id=ident,
                    aliases=sorted({str(a) for a in vuln.get("aliases") or ()} - {ident}),
                    summary=" ".join(str(vuln.get("description") or "").split())[:MAX_SUMMARY],
                    fix_versions=[str(v) for v in vuln.get("fix_versions") or ()],
                    sources=["pip-audit"],
                )
            )
    return result
