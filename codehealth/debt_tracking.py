"""Debt items across live scans: new, still open, fixed, reopened — by fingerprint.

The line, message and severity of an open item follow the code; its identity (fingerprint)
does not. High and critical debt is handed to maintenance as refactor tasks; fixing the debt, or
bringing it below high, closes the task (maintenance.handoff is the only thing of that app we call).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from codehealth.analyzer import Finding
from codehealth.models import SEVERITY_RANK, CodeScan, DebtItem, DebtKind, Severity
from maintenance.handoff import DebtTask, tasks_close_for_debt, tasks_open_for_debt

BATCH = 500
TASK_SEVERITIES = {Severity.HIGH, Severity.CRITICAL}
_TRACKED_FIELDS = ["kind", "rule", "severity", "path", "line", "symbol", "message", "remediation_minutes"]


@dataclass
class Tracked:
    new: int = 0
    fixed: int = 0
    new_by_severity: Counter = field(default_factory=Counter)
    baseline: bool = False


def _fields(f: Finding) -> dict:
    return {
        "kind": f.kind,
        "rule": f.rule[:20],
        "severity": f.severity,
        "path": f.path,
        "line": f.line,
        "symbol": f.symbol[:300],
        "message": f.message,
        "remediation_minutes": f.minutes,
    }


def debt_track(*, scan: CodeScan, findings: list[Finding], pylint_ran: bool, now: datetime) -> Tracked:
    """Bring the repository's debt items in line with `findings` of this scan. pylint items are
    only judged by scans that ran pylint (a scan without pylint says nothing about them)."""
    repository = scan.repository
    result = Tracked()
    result.baseline = (
        not CodeScan.objects.filter(repository=repository, status=CodeScan.Status.SUCCEEDED, id__lt=scan.id)
        .exclude(trigger=CodeScan.Trigger.HISTORY)
        .exists()
    )
    current = {f.fingerprint: f for f in findings}
    # Tuples, not model instances: a re-scan compares every item and changes almost none.
    existing = {
        row[1]: row
        for row in DebtItem.objects.filter(repository=repository).values_list(
            "id", "fingerprint", "status", *_TRACKED_FIELDS
        )
    }
    created, changed, to_task, relieved = [], [], [], []
    for fp, finding in current.items():
        row = existing.get(fp)
        values = _fields(finding)
        if row is None:
            item = DebtItem(
                repository=repository,
                fingerprint=fp,
                first_seen_scan=scan,
                last_seen_scan=scan,
                created_at=now,
                updated_at=now,
                **values,
            )
            created.append(item)
            result.new_by_severity[finding.severity] += 1
            to_task.append(item)
            continue
        pk, _, status, *stored = row
        reopened = status == DebtItem.Status.FIXED
        if not reopened and tuple(stored) == tuple(values[k] for k in _TRACKED_FIELDS):
            continue
        was = stored[_TRACKED_FIELDS.index("severity")]
        escalated = SEVERITY_RANK[finding.severity] > SEVERITY_RANK[was]
        item = DebtItem(
            id=pk,
            repository=repository,
            fingerprint=fp,
            status=DebtItem.Status.OPEN,
            fixed_in_scan=None,
            updated_at=now,
            **values,
        )
        changed.append(item)
        if reopened:
            result.new_by_severity[finding.severity] += 1
        if reopened or escalated:
            to_task.append(item)
        elif was in TASK_SEVERITIES and finding.severity not in TASK_SEVERITIES:
            relieved.append(item.task_ref)  # no longer high: its task is done (reopened if it climbs back)
    gone = [
        (row[0], fp)
        for fp, row in existing.items()
        if row[2] == DebtItem.Status.OPEN
        and fp not in current
        and (pylint_ran or row[3 + _TRACKED_FIELDS.index("kind")] != DebtKind.PYLINT)
    ]
    DebtItem.objects.bulk_create(created, batch_size=BATCH)
    DebtItem.objects.bulk_update(changed, [*_TRACKED_FIELDS, "status", "fixed_in_scan", "updated_at"], batch_size=BATCH)
    gone_ids = [pk for pk, _ in gone]
    for start in range(0, len(gone_ids), BATCH):
        DebtItem.objects.filter(id__in=gone_ids[start : start + BATCH]).update(
            status=DebtItem.Status.FIXED, fixed_in_scan=scan, updated_at=now
        )
    debt_seen_again(scan=scan, pylint_ran=pylint_ran)
    result.new = sum(result.new_by_severity.values())
    result.fixed = len(gone)
    _hand_off(to_task, [f"{repository.pk}:{fp}" for _, fp in gone] + relieved, now)
    return result


def debt_seen_again(*, scan: CodeScan, pylint_ran: bool) -> None:
    """The repository's open items were seen by this scan (pylint items only if pylint ran)."""
    still = DebtItem.objects.filter(repository_id=scan.repository_id, status=DebtItem.Status.OPEN)
    if not pylint_ran:
        still = still.exclude(kind=DebtKind.PYLINT)
    still.update(last_seen_scan=scan)


def _due(severity: str, now: datetime) -> datetime:
    days = (
        settings.CODEHEALTH_TASK_LEAD_DAYS_CRITICAL
        if severity == Severity.CRITICAL
        else settings.CODEHEALTH_TASK_LEAD_DAYS_HIGH
    )
    return now + timedelta(days=days)


def _hand_off(opened: list[DebtItem], fixed_refs: list[str], now: datetime) -> None:
    tasks = [
        DebtTask(
            fingerprint=item.task_ref,
            title=f"Refactor {item.symbol or item.path}: {item.get_kind_display().lower()}",
            description=f"{item.path}:{item.line} — {item.message} (estimated {item.remediation_minutes} min)",
            severity=item.severity,
            due_at=_due(item.severity, now),
        )
        for item in opened
        if item.severity in TASK_SEVERITIES
    ]
    tasks_open_for_debt(items=tasks, now=now)
    tasks_close_for_debt(fingerprints=fixed_refs, now=now)
