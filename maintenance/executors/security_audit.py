"""Security audit of an environment, the way pip-audit and Dependabot alerts report it.

Two sources, each optional, findings merged (maintenance.osv.findings_merge: one finding per
vulnerability whatever its PYSEC/GHSA/CVE ids):
- pip-audit (`-f json`) run by the portal's interpreter against the target's: pip-audit lists a
  "local environment" through `pip list` of the interpreter named by PIPAPI_PYTHON_LOCATION
  (pip-api's switch), so the target's own pip decides what is installed. It asks an online
  service (PyPI's JSON API or OSV).
- PORTAL_ADVISORY_DB: an OSV directory matched offline (maintenance.osv).

Safe by default, a quiet audit is never taken for a clean one: every package pip-audit skipped
(its skip_reason), and every package when pip-audit failed (advisory service unreachable) or an
advisory directory could not be read, is listed in changes["incomplete"], the outcome is
`partial` and the summary says "incomplete".

Reachability: with a code-health repository, each vulnerable distribution's top-level modules
(from its installed metadata, read by the target's interpreter) are matched against the modules
the repository imports (maintenance.reachability); imported ones are ranked first.

plan() only counts what would be audited (read-only, cheap); apply() runs the audit. Neither
changes the environment; fixes are proposed as a dependency update (changes["proposed_updates"]).
"""

from __future__ import annotations

import json
import sys

from django.conf import settings
from packaging.version import InvalidVersion, Version
from rest_framework import serializers

from maintenance.executors.base import PARTIAL, SUCCEEDED, Executor, Outcome, Plan, RunContext, register, run_logged
from maintenance.osv import (
    AdvisoryError,
    Finding,
    PipAuditResult,
    advisories_load,
    advisories_match,
    findings_merge,
    pip_audit_parse,
)
from maintenance.pip_env import distributions, worker_env
from maintenance.reachability import reachable, repository_imports

LIST_TIMEOUT = 120
MAX_LISTED = 500  # vulnerabilities and incomplete packages kept in changes (the counts stay exact)
SERVICES = ("pypi", "osv")


class SecurityAuditConfig(serializers.Serializer):
    pip_audit = serializers.BooleanField(default=True, help_text="Ask pip-audit's online service.")
    vulnerability_service = serializers.ChoiceField(SERVICES, default="pypi")
    pip_audit_timeout_seconds = serializers.IntegerField(min_value=10, max_value=3600, default=600)
    ignore_ids = serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=500,
        required=False,
        default=list,
        help_text="Vulnerability ids (or aliases) accepted as known, like pip-audit --ignore-vuln.",
    )
    propose_updates = serializers.BooleanField(default=True)


def _version_key(text: str):
    try:
        return (0, Version(text))
    except InvalidVersion:
        return (1, text)


def _fix_target(findings: list[Finding]) -> str | None:
    """The lowest version fixing every finding of one package, or None when one has no fix."""
    if not findings or not all(f.fix_versions for f in findings):
        return None
    return max((min(f.fix_versions, key=_version_key) for f in findings), key=_version_key)


@register
class SecurityAudit(Executor):
    kind = "security_audit"
    label = "Security audit"
    Config = SecurityAuditConfig

    def _sources(self, ctx: RunContext) -> list[str]:
        sources = []
        if ctx.config.get("pip_audit", True):
            sources.append(f"pip-audit ({ctx.config.get('vulnerability_service', 'pypi')})")
        if settings.PORTAL_ADVISORY_DB:
            sources.append(f"advisory directory {settings.PORTAL_ADVISORY_DB}")
        if not sources:
            raise ValueError("No advisory source: enable pip_audit in the config or set PORTAL_ADVISORY_DB.")
        return sources

    def plan(self, ctx: RunContext) -> Plan:
        sources = self._sources(ctx)
        found = distributions(ctx, timeout=LIST_TIMEOUT)
        summary = f"Audit {len(found)} installed package(s) against {' and '.join(sources)}"
        return Plan(summary=summary, items=[{"audit": len(found), "sources": sources}])

    def apply(self, ctx: RunContext, plan: Plan) -> Outcome:
        sources = self._sources(ctx)
        dists = distributions(ctx, timeout=LIST_TIMEOUT)
        versions = {name: info["version"] for name, info in dists.items()}
        findings: list[Finding] = []
        incomplete: list[dict] = []
        notes: list[str] = []
        if ctx.config.get("pip_audit", True):
            result, problem = self._pip_audit(ctx)
            if problem:
                notes.append(f"pip-audit could not audit: {problem}")
                incomplete += [{"package": name, "reason": f"pip-audit: {problem}"} for name in sorted(versions)]
            else:
                findings += result.findings
                incomplete += [{"package": s["package"], "reason": f"pip-audit: {s['reason']}"} for s in result.skipped]
        if settings.PORTAL_ADVISORY_DB:
            try:
                loaded = advisories_load(settings.PORTAL_ADVISORY_DB, versions)
            except AdvisoryError as exc:
                notes.append(f"advisory directory unreadable: {exc}")
                incomplete += [{"package": name, "reason": f"advisory directory: {exc}"} for name in sorted(versions)]
            else:
                findings += advisories_match(versions, loaded.advisories)
                for error in loaded.errors[:20]:
                    ctx.log(f"advisory skipped: {error}")
                if loaded.errors:
                    notes.append(f"{len(loaded.errors)} advisory file(s) could not be read (see the log)")
        ignored = set(ctx.config.get("ignore_ids") or ())
        merged = [f for f in findings_merge(findings) if not (f.ids() & ignored)]
        rows = self._rows(ctx, merged, dists)
        changes: dict = {
            "vulnerabilities": rows[:MAX_LISTED],
            "vulnerability_count": len(rows),
            "packages_audited": len(versions),
            "sources": sources,
        }
        if incomplete:
            changes["incomplete"] = incomplete[:MAX_LISTED]
            changes["incomplete_count"] = len(incomplete)
        if notes:
            changes["notes"] = notes
        if ctx.config.get("propose_updates", True):
            changes["proposed_updates"] = self._proposals(merged)
        return Outcome(PARTIAL if incomplete else SUCCEEDED, self._summary(rows, incomplete, versions), changes)

    def _pip_audit(self, ctx: RunContext) -> tuple[PipAuditResult | None, str]:
        """pip-audit's parsed answer, or (None, why it gave none)."""
        service = ctx.config.get("vulnerability_service", "pypi")
        args = [sys.executable, "-m", "pip_audit", "-f", "json", "--progress-spinner", "off", "-s", service]
        args += ["--timeout", "30"]  # per request to the service
        # No VIRTUAL_ENV: pip-audit would warn that it audits another environment; it does, on purpose.
        env = {**worker_env(), "PIPAPI_PYTHON_LOCATION": ctx.target.python}
        timeout = ctx.config.get("pip_audit_timeout_seconds", 600)
        try:
            done = run_logged(ctx, args, cwd=ctx.target.project_dir or None, env=env, timeout=timeout, check=False)
        except Exception as exc:  # a timeout (CommandFailed) or an interpreter that cannot start
            return None, str(exc)
        # Exit 1 with a JSON document means "vulnerabilities found"; anything else is a failure.
        if done.returncode in (0, 1) and done.stdout.strip().startswith("{"):
            try:
                return pip_audit_parse(json.loads(done.stdout)), ""
            except (ValueError, AdvisoryError) as exc:
                return None, f"unreadable output: {exc}"[:300]
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no output")
        if "ConnectionError" in done.stderr or "ProxyError" in done.stderr or "Max retries" in done.stderr:
            return None, f"advisory service unreachable ({last.strip()[:200]})"
        return None, f"exited with {done.returncode} ({last.strip()[:200]})"

    def _rows(self, ctx: RunContext, merged: list[Finding], dists: dict) -> list[dict]:
        imports = None
        if ctx.target.repository_id and merged:
            try:
                imports = repository_imports(ctx.target.repository_id)
            except Exception as exc:  # a missing or moved repository: say so, keep the audit
                ctx.log(f"reachability unknown: {type(exc).__name__}: {exc}")
        rows = []
        for finding in merged:
            row = finding.as_dict()
            if imports is None:
                row["reachable"], row["imported_by"] = None, []
            else:
                top_level = dists.get(finding.package, {}).get("top_level", [])
                row["reachable"], row["imported_by"] = reachable(top_level, imports)
            rows.append(row)
        rank = {True: 0, None: 1, False: 2}
        rows.sort(key=lambda r: (rank[r["reachable"]], not r["fix_exists"], r["package"], r["id"]))
        return rows

    @staticmethod
    def _proposals(merged: list[Finding]) -> list[dict]:
        by_package: dict[str, list[Finding]] = {}
        for finding in merged:
            by_package.setdefault(finding.package, []).append(finding)
        proposals = []
        for name, group in sorted(by_package.items()):
            target = _fix_target(group)
            if target is not None:
                proposals.append({"name": name, "from": group[0].version, "to": target, "fixes": [f.id for f in group]})
        return proposals

    @staticmethod
    def _summary(rows: list[dict], incomplete: list[dict], versions: dict) -> str:
        packages = {r["package"] for r in rows}
        reachable_count = sum(1 for r in rows if r["reachable"])
        if rows:
            text = f"{len(rows)} vulnerabilit{'y' if len(rows) == 1 else 'ies'} in {len(packages)} package(s)"
            if reachable_count:
                text += f", {reachable_count} in imported code"
        else:
            text = "No known vulnerabilities found"
        if incomplete:
            skipped = len({i["package"] for i in incomplete})
            return f"Incomplete: {skipped} of {len(versions)} package(s) could not be audited. {text} in the rest."
        return f"{text} ({len(versions)} package(s) audited)."
