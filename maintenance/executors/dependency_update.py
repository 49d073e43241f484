"""Dependency updates, the way Renovate and Dependabot do them but against an installed
environment: plan the outdated packages the config allows, then (after approval, when the task
requires it) upgrade, verify, watch the service, and put everything back on any failure.

plan() (read-only): outdated packages from `<python> -m pip list --outdated` (pip projects) or
`poetry show --outdated` (poetry projects); per package the newest version that the policy
(patch/minor/major), the allow/deny lists and the minimum release age let through. Release age
needs upload times, which only an index's JSON API gives (`index_url`, PEP 691/700): without it
the age is unknown and, when a minimum is set, the package is held back rather than guessed.
Groups go together: when one outdated member is held back, the whole group is.

apply(): snapshot `pip freeze --all` (and pyproject.toml/poetry.lock for poetry), upgrade to the
planned versions exactly, run `restart_command` and the environment's verification command,
run its health checks, then the health gate when a service is attached (maintenance.health_gate).
Any failure restores the snapshot exactly (maintenance.pip_env.restore checks the freeze) and
the outcome is `rolled_back`; a gate regression also opens an alert.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import UTC, timedelta
from pathlib import Path

from django.utils import timezone
from packaging.version import InvalidVersion, Version
from rest_framework import serializers

from maintenance.executors.base import (
    FAILED,
    ROLLED_BACK,
    SUCCEEDED,
    CommandFailed,
    Executor,
    Outcome,
    Plan,
    RunContext,
    register,
    run_logged,
)
from maintenance.health_gate import MAX_WATCH_SECONDS, gate_alert, gate_judge, service_window
from maintenance.osv import normalize
from maintenance.pip_env import (
    Outdated,
    RestoreFailed,
    available_versions,
    freeze,
    installed,
    outdated,
    pip,
    release_dates,
    restore,
    target_env,
)
from monitoring.healthchecks.runner import health_check_run
from monitoring.healthchecks.status import HEALTHY
from monitoring.models import HealthCheck

POLICIES = ("patch", "minor", "major")
NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")  # PEP 508 project names
MAX_NAMES = 500
MAX_GROUPS = 100
LIST_TIMEOUT = 300  # seconds for a pip/poetry listing
POETRY_FILES = ("pyproject.toml", "poetry.lock")


def _name_list(**kwargs):
    return serializers.ListField(
        child=serializers.RegexField(NAME, max_length=200), max_length=MAX_NAMES, required=False, default=list, **kwargs
    )


class DependencyUpdateConfig(serializers.Serializer):
    allow = _name_list(help_text="Only these packages (empty: all).")
    deny = _name_list(help_text="Never these packages.")
    policy = serializers.ChoiceField(POLICIES, default="minor", help_text="Largest kind of bump allowed.")
    min_release_age_days = serializers.IntegerField(min_value=0, max_value=365, default=0)
    index_url = serializers.URLField(
        required=False, default="", allow_blank=True, help_text="Index JSON API giving upload times (release age)."
    )
    groups = serializers.ListField(
        child=serializers.ListField(child=serializers.RegexField(NAME, max_length=200), min_length=2, max_length=100),
        max_length=MAX_GROUPS,
        required=False,
        default=list,
        help_text='Packages updated together or not at all, e.g. [["boto3", "botocore"]].',
    )
    max_packages = serializers.IntegerField(min_value=1, max_value=500, default=50)
    install_timeout_seconds = serializers.IntegerField(min_value=10, max_value=3600, default=600)
    verify_timeout_seconds = serializers.IntegerField(min_value=1, max_value=7200, default=900)
    restart_command = serializers.ListField(
        child=serializers.CharField(max_length=1000), max_length=100, required=False, default=list
    )
    gate_watch_seconds = serializers.IntegerField(min_value=1, max_value=MAX_WATCH_SECONDS, default=300)
    gate_max_error_rate_increase = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.02)
    gate_max_p95_ratio = serializers.FloatField(min_value=1.0, max_value=100.0, default=1.5)
    gate_min_requests = serializers.IntegerField(min_value=1, max_value=1_000_000, default=50)

    def validate(self, attrs):
        grouped: dict[str, int] = {}
        for index, group in enumerate(attrs.get("groups") or ()):
            for name in group:
                if normalize(name) in grouped:
                    raise serializers.ValidationError(
                        {"groups": [f"{name} is in group {grouped[normalize(name)]} and {index}"]}
                    )
                grouped[normalize(name)] = index
        return attrs


def bump_kind(old: str, new: str) -> str:
    """patch, minor or major: the first of (major, minor) that differs, else patch."""
    a, b = ((*Version(v).release, 0, 0, 0) for v in (old, new))
    if a[0] != b[0]:
        return "major"
    return "minor" if a[1] != b[1] else "patch"


def _allowed_by_policy(old: str, new: str, policy: str) -> bool:
    return POLICIES.index(bump_kind(old, new)) <= POLICIES.index(policy)


class Failure(Exception):
    """A step after the upgrade failed: the environment goes back to its snapshot."""


@register
class DependencyUpdate(Executor):
    kind = "dependency_update"
    label = "Dependency updates"
    Config = DependencyUpdateConfig

    # Injected in tests: the gate's clock (aware UTC) and its wait.
    clock = staticmethod(timezone.now)
    sleep = staticmethod(time.sleep)

    # --- plan -----------------------------------------------------------------------------------

    def plan(self, ctx: RunContext) -> Plan:
        config = ctx.config
        rows = (
            self._poetry_outdated(ctx)
            if ctx.target.package_manager == "poetry"
            else outdated(ctx, timeout=LIST_TIMEOUT)
        )
        allow = {normalize(n) for n in config.get("allow") or ()}
        deny = {normalize(n) for n in config.get("deny") or ()}
        policy = config.get("policy", "minor")
        items: list[dict] = []
        held: list[tuple[str, str]] = []
        for row in sorted(rows, key=lambda r: r.name):
            if allow and row.name not in allow:
                continue  # not asked about: not listed as held back either
            if row.name in deny:
                held.append((row.name, "denied"))
                continue
            chosen, why = self._choose(ctx, row, policy)
            if chosen is None:
                held.append((row.name, why))
                continue
            items.append({"name": row.name, "from": row.version, "to": chosen, "kind": bump_kind(row.version, chosen)})
        items, held = self._apply_groups(items, held, config.get("groups") or ())
        limit = config.get("max_packages", 50)
        for item in items[limit:]:
            held.append((item["name"], f"over max_packages ({limit})"))
        items = items[:limit]
        for name, why in held:
            ctx.log(f"held back: {name}: {why}")
        listed = ", ".join(f"{i['name']} {i['from']} → {i['to']}" for i in items[:10])
        more = f" and {len(items) - 10} more" if len(items) > 10 else ""
        summary = f"{len(items)} update(s)" + (f": {listed}{more}" if items else "")
        if held:
            summary += f"; {len(held)} held back (" + ", ".join(f"{n}: {w}" for n, w in held[:5]) + ")"
        return Plan(summary=summary[:1000], items=items)

    def _choose(self, ctx: RunContext, row, policy: str) -> tuple[str | None, str]:
        """The newest version the policy and release age allow, or (None, why not)."""
        try:
            Version(row.version)
            Version(row.latest)
        except InvalidVersion:
            return None, f"version {row.version} or {row.latest} is not PEP 440"
        days = ctx.config.get("min_release_age_days", 0)
        candidates = [row.latest] if _allowed_by_policy(row.version, row.latest, policy) else []
        if (days or not candidates) and ctx.target.package_manager == "pip":
            # The latest is too big a step, or may be too young: every newer version is a candidate.
            current = Version(row.version)
            candidates = [
                v
                for v in available_versions(ctx, row.name, timeout=LIST_TIMEOUT)
                if Version(v) > current and not Version(v).is_prerelease and _allowed_by_policy(row.version, v, policy)
            ] or candidates
        if not candidates:
            return None, f"{row.latest} is a {bump_kind(row.version, row.latest)} update (policy {policy})"
        if not days:
            return candidates[0], ""
        index_url = ctx.config.get("index_url") or ""
        dates = release_dates(index_url, row.name, timeout=30) if index_url else {}
        cutoff = self.clock() - timedelta(days=days)
        for version in candidates:
            uploaded = dates.get(str(Version(version)))
            if uploaded is not None and uploaded <= cutoff:
                return version, ""
        if not dates:
            return (
                None,
                f"release age unknown (no upload times from {index_url or 'an index_url'}), minimum {days} days",
            )
        return None, f"{candidates[0]} is younger than {days} days"

    @staticmethod
    def _apply_groups(items: list[dict], held: list[tuple[str, str]], groups) -> tuple[list[dict], list]:
        held_names = {name for name, _ in held}
        for group in groups:
            names = {normalize(n) for n in group}
            blocked = sorted(names & held_names)
            if not blocked:
                for item in items:
                    if item["name"] in names:
                        item["group"] = sorted(names)
                continue
            for item in [i for i in items if i["name"] in names]:
                items.remove(item)
                held.append((item["name"], f"its group waits for {', '.join(blocked)}"))
        return items, held

    # --- apply ----------------------------------------------------------------------------------

    def apply(self, ctx: RunContext, plan: Plan) -> Outcome:
        if plan.empty:
            return Outcome(SUCCEEDED, "Nothing to update.", {"packages": []})
        config = ctx.config
        gated = bool(ctx.target.service_id)
        watch = config.get("gate_watch_seconds", 300)
        if gated and ctx.remaining() < watch + 60:
            return Outcome(FAILED, f"Not started: the run's deadline leaves less than the {watch} s health gate.")
        snapshot = freeze(ctx, timeout=LIST_TIMEOUT)
        files = self._snapshot_files(ctx)
        ctx.log(f"snapshot: {len(snapshot)} distributions")
        changes: dict = {"packages": [], "snapshot_size": len(snapshot)}
        try:
            before = installed(ctx, timeout=LIST_TIMEOUT)
            self._upgrade(ctx, plan.items)
            after = installed(ctx, timeout=LIST_TIMEOUT)
            changes["packages"] = [
                {"name": name, "from": before.get(name), "to": version}
                for name, version in sorted(after.items())
                if before.get(name) != version
            ] + [
                {"name": name, "from": version, "to": None}
                for name, version in sorted(before.items())
                if name not in after
            ]
            self._restart(ctx)
            self._verify(ctx)
            changes["health_checks"] = self._health_checks(ctx)
            if gated:
                verdict = self._gate(ctx)
                changes["health_gate"] = verdict
                if not verdict["passed"]:
                    raise Failure(f"health gate: {verdict['reason']}")
        except Exception as exc:  # whatever failed after the snapshot, the environment goes back
            if isinstance(exc, Failure):
                reason = str(exc)
            elif isinstance(exc, CommandFailed):
                reason = f"{exc}: {exc.output.strip()[-300:]}"
            else:
                reason = f"{type(exc).__name__}: {exc}"
            return self._roll_back(ctx, snapshot, files, changes, reason)
        names = ", ".join(f"{p['name']} {p['from']} → {p['to']}" for p in changes["packages"][:10])
        gate = changes.get("health_gate")
        tail = f"; health gate: {gate['reason']}" if gate else ""
        return Outcome(SUCCEEDED, f"Updated {len(changes['packages'])} package(s): {names}{tail}"[:1000], changes)

    def _upgrade(self, ctx: RunContext, items: list[dict]) -> None:
        timeout = ctx.config.get("install_timeout_seconds", 600)
        if ctx.target.package_manager == "poetry":
            specs = [f"{i['name']}@^{i['to']}" for i in items]
            self._poetry(ctx, "add", "--no-interaction", *specs, timeout=timeout)
        else:
            pip(ctx, "install", *(f"{i['name']}=={i['to']}" for i in items), timeout=timeout)

    def _restart(self, ctx: RunContext) -> None:
        command = list(ctx.config.get("restart_command") or ())
        if command:
            try:
                run_logged(ctx, command, cwd=ctx.target.project_dir, env=target_env(ctx), timeout=300)
            except (CommandFailed, OSError) as exc:
                raise Failure(f"restart command {exc}") from exc

    def _verify(self, ctx: RunContext) -> None:
        command = list(ctx.target.verify_command)
        if not command:
            ctx.log("no verification command configured")
            return
        timeout = ctx.config.get("verify_timeout_seconds", 900)
        try:
            run_logged(ctx, command, cwd=ctx.target.project_dir, env=target_env(ctx), timeout=timeout)
        except (CommandFailed, OSError) as exc:
            raise Failure(f"verification command {exc}") from exc

    def _health_checks(self, ctx: RunContext) -> list[dict]:
        ids = list(ctx.target.health_check_ids)
        if not ids:
            return []
        checks = {c.pk: c for c in HealthCheck.objects.filter(pk__in=ids)}
        results, failed = [], []
        for pk in ids:
            check = checks.get(pk)
            if check is None:
                failed.append(f"#{pk} no longer exists")
                continue
            result = health_check_run(check=check)
            results.append({"id": pk, "name": check.name, "status": result.status, "message": result.message[:200]})
            ctx.log(f"health check {check.name}: {result.status} {result.message[:200]}")
            if result.status != HEALTHY:
                failed.append(f"{check.name} is {result.status}")
        if failed:
            raise Failure("health checks: " + "; ".join(failed))
        return results

    def _gate(self, ctx: RunContext) -> dict:
        config = ctx.config
        watch = timedelta(seconds=config.get("gate_watch_seconds", 300))
        service_id = ctx.target.service_id
        start = self.clock()
        before = service_window(service_id=service_id, since=start - watch, until=start)
        ctx.log(f"health gate: watching the service for {watch.total_seconds():g} s")
        self.sleep(watch.total_seconds())
        after = service_window(service_id=service_id, since=start, until=start + watch)
        verdict = gate_judge(
            before,
            after,
            max_error_rate_increase=config.get("gate_max_error_rate_increase", 0.02),
            max_p95_ratio=config.get("gate_max_p95_ratio", 1.5),
            min_requests=config.get("gate_min_requests", 50),
        )
        ctx.log(f"health gate: {verdict.reason}")
        return {
            "passed": verdict.passed,
            "judged": verdict.judged,
            "reason": verdict.reason,
            "before": verdict.before,
            "after": verdict.after,
            "since": (start - watch).astimezone(UTC).isoformat(),
            "until": (start + watch).astimezone(UTC).isoformat(),
        }

    def _roll_back(self, ctx: RunContext, snapshot: list[str], files: dict, changes: dict, reason: str) -> Outcome:
        ctx.log(f"rolling back: {reason}")
        changes["rolled_back_because"] = reason[:1000]
        try:
            self._restore_files(ctx, files)
            restore(ctx, snapshot, timeout=ctx.config.get("install_timeout_seconds", 600))
        except (RestoreFailed, CommandFailed, OSError) as exc:
            ctx.log(f"rollback incomplete: {exc}")
            return Outcome(FAILED, f"{reason[:400]} — and the rollback did not complete: {exc}"[:1000], changes)
        try:
            self._restart(ctx)
        except Failure as exc:
            ctx.log(f"after the rollback: {exc}")
        gate = changes.get("health_gate")
        if gate and not gate["passed"] and ctx.target.service_id:
            packages = ", ".join(f"{p['name']} {p['from']} → {p['to']}" for p in changes.get("packages", []))
            try:
                alert = gate_alert(
                    service_id=ctx.target.service_id,
                    environment=ctx.target.name,
                    summary=f"Dependency update on {ctx.target.name} rolled back: {gate['reason']}",
                    description=f"Packages: {packages}" + (f"\nRun #{ctx.run_id}" if ctx.run_id else ""),
                )
            except Exception as exc:  # the environment is restored: the run still says so
                ctx.log(f"the regression alert could not be opened: {type(exc).__name__}: {exc}")
                alert = None
            if alert is not None:
                changes["alert_id"] = alert.pk
        return Outcome(ROLLED_BACK, f"Rolled back: {reason}"[:1000], changes)

    # --- poetry ---------------------------------------------------------------------------------

    @staticmethod
    def _poetry_bin(ctx: RunContext) -> str:
        beside = Path(ctx.target.python).parent / "poetry"
        found = str(beside) if beside.exists() else shutil.which("poetry", path=target_env(ctx)["PATH"])
        if not found:
            raise CommandFailed(["poetry"], 127, "poetry is not installed in the environment nor on the PATH")
        return found

    def _poetry(self, ctx: RunContext, *args: str, timeout: float):
        # VIRTUAL_ENV (target_env) makes poetry act on the target venv instead of one of its own.
        command = [self._poetry_bin(ctx), "--no-ansi", *args]
        return run_logged(ctx, command, cwd=ctx.target.project_dir, env=target_env(ctx), timeout=timeout)

    def _poetry_outdated(self, ctx: RunContext):
        done = self._poetry(ctx, "show", "--outdated", "--format", "json", "--no-interaction", timeout=LIST_TIMEOUT)
        try:
            rows = json.loads(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "[]")
        except (ValueError, IndexError) as exc:
            raise CommandFailed(["poetry show --outdated"], done.returncode, done.stdout[-2000:]) from exc
        return [Outdated(normalize(r["name"]), str(r["version"]), str(r["latest_version"])) for r in rows]

    @staticmethod
    def _snapshot_files(ctx: RunContext) -> dict[str, bytes | None]:
        if ctx.target.package_manager != "poetry":
            return {}
        root = Path(ctx.target.project_dir)
        return {name: (root / name).read_bytes() if (root / name).exists() else None for name in POETRY_FILES}

    @staticmethod
    def _restore_files(ctx: RunContext, files: dict[str, bytes | None]) -> None:
        root = Path(ctx.target.project_dir)
        for name, data in files.items():
            if data is None:
                (root / name).unlink(missing_ok=True)
            else:
                (root / name).write_bytes(data)
