"""What maintenance did, for the summary API, the vulnerabilities page and reporting.

Figures come from runs' `changes` (the keys documented in maintenance/executors/base.py), as the
columns run_finish copies them into: bytes freed and files removed by cleanups, packages
updated; and the open vulnerabilities of each environment's latest completed audit. Days are UTC
days.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db.models import Count, OuterRef, Subquery, Sum
from django.utils import timezone

from maintenance.models import MaintenanceRun, MaintenanceTask, RunStatus
from portal.lib.sqltime import UtcDate

DAYS_MAX = 366
# Statuses whose changes happened (a rolled-back run restored what it changed).
APPLIED = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
AUDIT_DONE = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)


def maintenance_summary(*, days: int = 30, now: datetime | None = None) -> dict:
    """Runs by status per day over the last `days` UTC days, and the totals of what changed."""
    if not 1 <= days <= DAYS_MAX:
        raise ValueError(f"days must be between 1 and {DAYS_MAX}")
    now = now or timezone.now()
    start = datetime.combine((now.astimezone(UTC) - timedelta(days=days - 1)).date(), datetime.min.time(), UTC)
    runs = MaintenanceRun.objects.filter(created_at__gte=start, created_at__lte=now)
    per_day: dict = defaultdict(dict)
    by_status: dict = defaultdict(int)
    rows = runs.annotate(day=UtcDate("created_at")).values("day", "status").annotate(n=Count("id")).order_by()
    for row in rows:
        per_day[row["day"]][row["status"]] = row["n"]
        by_status[row["status"]] += row["n"]
    # The figures are columns run_finish copies from `changes`: no JSON is read here.
    figures = ("bytes_freed", "files_removed", "packages_updated")
    sums = runs.filter(status__in=APPLIED).aggregate(**{f: Sum(f) for f in figures})
    totals = {f: int(sums[f] or 0) for f in figures}
    findings = open_vulnerabilities()
    return {
        "since": start,
        "until": now,
        "days": [
            {
                "day": start.date() + timedelta(days=offset),
                "statuses": per_day.get(start.date() + timedelta(days=offset), {}),
            }
            for offset in range(days)
        ],
        "runs_by_status": dict(by_status),
        **totals,
        "open_vulnerabilities": len(findings["vulnerabilities"]),
        "incomplete_audits": findings["incomplete_environments"],
    }


def latest_audit_runs() -> list[MaintenanceRun]:
    """Each environment's latest completed security-audit run, in two queries: per audit task
    one lookup of its newest completed run along the (task, created_at) index, never a scan of
    the run history; then the newest of those per environment."""
    newest = (
        MaintenanceRun.objects.filter(task=OuterRef("pk"), status__in=AUDIT_DONE)
        .order_by("-created_at", "-id")
        .values("id")[:1]
    )
    ids = (
        MaintenanceTask.objects.filter(kind=MaintenanceTask.Kind.SECURITY_AUDIT, environment__isnull=False)
        .annotate(last=Subquery(newest))
        .values_list("last", flat=True)
    )
    runs = MaintenanceRun.objects.filter(pk__in=[i for i in ids if i is not None]).select_related("task__environment")
    per_environment: dict[int, MaintenanceRun] = {}
    for run in runs:
        held = per_environment.get(run.task.environment_id)
        if held is None or (run.created_at, run.pk) > (held.created_at, held.pk):
            per_environment[run.task.environment_id] = run
    return sorted(per_environment.values(), key=lambda r: r.task.environment.name)


def open_vulnerabilities() -> dict:
    """Open findings across environments, reachable ones first, then by package and id."""
    found, incomplete = [], 0
    for run in latest_audit_runs():
        changes = run.changes if isinstance(run.changes, dict) else {}
        if changes.get("incomplete"):
            incomplete += 1
        for vuln in changes.get("vulnerabilities") or ():
            if not isinstance(vuln, dict):
                continue
            found.append(
                {
                    "environment": run.task.environment.name if run.task.environment else "",
                    "environment_id": run.task.environment_id,
                    "run_id": run.pk,
                    "audited_at": run.finished_at,
                    "id": str(vuln.get("id", "")),
                    "aliases": [str(a) for a in vuln.get("aliases") or ()],
                    "package": str(vuln.get("package", "")),
                    "version": str(vuln.get("version", "")),
                    "summary": str(vuln.get("summary", "")),
                    "fix_versions": [str(v) for v in vuln.get("fix_versions") or ()],
                    "reachable": vuln.get("reachable"),  # True, False or None (not known)
                }
            )
    # Reachable first, then not known, then not imported.
    rank = {True: 0, None: 1, False: 2}
    found.sort(key=lambda v: (rank.get(v["reachable"], 1), v["package"].lower(), v["id"], v["environment"]))
    return {"vulnerabilities": found, "incomplete_environments": incomplete}


def with_last_run(queryset):
    """Tasks annotated with their latest run (three correlated subqueries, no query per row)."""
    latest = MaintenanceRun.objects.filter(task=OuterRef("pk")).order_by("-created_at", "-id")
    return queryset.annotate(
        last_run_id=Subquery(latest.values("id")[:1]),
        last_run_status=Subquery(latest.values("status")[:1]),
        last_run_finished_at=Subquery(latest.values("finished_at")[:1]),
    )
