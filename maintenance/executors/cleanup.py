"""Cleanup: `__pycache__` directories, stray `*.pyc`, logs older than N days (deleted or
gzip-compressed) and temporary files by glob — only inside the environment's cleanup roots.

plan() walks the roots and lists every item with its size (nothing is touched); apply() removes
exactly the planned items that are still safe to touch (see maintenance/cleanup_scan.py for the
rules: roots that are or pass through symlinks are refused, links are never followed or removed,
patterns are relative and matched with RE2, each path is checked again right before removal).
"""

from rest_framework import serializers

from maintenance.cleanup_scan import MAX_PATTERNS, Item, PatternError, Rules, apply_cleanup, glob_check, plan_cleanup
from maintenance.executors.base import FAILED, PARTIAL, SUCCEEDED, Executor, Outcome, Plan, RunContext, register

MAX_ITEMS = 100_000
MAX_LISTED = 200  # paths kept in a run's changes (the log has the rest)


class GlobField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return glob_check(value)
        except PatternError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class CleanupConfig(serializers.Serializer):
    pycache = serializers.BooleanField(default=True, help_text="Remove __pycache__ directories.")
    pyc = serializers.BooleanField(default=True, help_text="Remove stray *.pyc/*.pyo files.")
    log_globs = serializers.ListField(
        child=GlobField(max_length=200), max_length=MAX_PATTERNS, default=list, required=False,
        help_text='Relative globs of log files, e.g. ["*.log", "logs/*.log.[0-9]"].',
    )  # fmt: skip
    log_days = serializers.IntegerField(min_value=1, max_value=3650, default=14, help_text="Only logs older than this.")
    log_action = serializers.ChoiceField(["delete", "compress"], default="compress")
    temp_globs = serializers.ListField(
        child=GlobField(max_length=200), max_length=MAX_PATTERNS, default=list, required=False,
        help_text='Relative globs of temporary files, e.g. ["tmp/**", "*.tmp"].',
    )  # fmt: skip
    max_items = serializers.IntegerField(min_value=1, max_value=MAX_ITEMS, default=10_000)


def _rules(config: dict) -> Rules:
    return Rules(
        pycache=config.get("pycache", True),
        pyc=config.get("pyc", True),
        log_globs=tuple(config.get("log_globs", ())),
        log_days=config.get("log_days", 14),
        log_action=config.get("log_action", "compress"),
        temp_globs=tuple(config.get("temp_globs", ())),
        max_items=config.get("max_items", 10_000),
    )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@register
class CleanupExecutor(Executor):
    kind = "cleanup"
    label = "Cleanup"
    Config = CleanupConfig

    def plan(self, ctx: RunContext) -> Plan:
        roots = ctx.target.cleanup_roots
        if not roots:
            return Plan(summary="No cleanup roots configured: nothing may be touched.")
        items, problems = plan_cleanup(roots, _rules(ctx.config))
        for problem in problems:
            ctx.log(f"refused: {problem}")
        for item in items:
            ctx.log(f"would {item.action} {item.kind} {item.path} ({item.bytes} bytes)")
        total = sum(i.bytes for i in items)
        summary = f"{len(items)} items, {_size(total)} in {len(roots)} root(s)"
        if problems:
            summary += f"; {len(problems)} problem(s): " + "; ".join(problems[:3])
        return Plan(summary=summary, items=[i.as_dict() for i in items])

    def apply(self, ctx: RunContext, plan: Plan) -> Outcome:
        items = [Item(**row) for row in plan.items]
        allowed = {str(r).rstrip("/") or "/" for r in ctx.target.cleanup_roots}
        # A plan is data (stored, maybe edited): only items under a root of the environment now.
        foreign = [i for i in items if i.root not in allowed]
        for item in foreign:
            ctx.log(f"skipped {item.path}: {item.root} is not a cleanup root of this environment")
        items = [i for i in items if i.root in allowed]
        done, freed, errors = apply_cleanup(items, ctx.log)
        changes = {"files_removed": len(done), "bytes_freed": freed, "removed": done[:MAX_LISTED]}
        if errors:
            changes["errors"] = errors[:MAX_LISTED]
        summary = f"removed {len(done)} of {len(plan.items)} planned items, freed {_size(freed)}"
        if not items and plan.items:
            return Outcome(status=FAILED, summary=summary, changes=changes)
        status = PARTIAL if errors or foreign or len(done) < len(items) else SUCCEEDED
        return Outcome(status=status, summary=summary, changes=changes)
