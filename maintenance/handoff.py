"""The one door other apps use to hand work to maintenance.

Code health calls these and nothing else of this app: high and critical debt becomes a
`refactor` task, fixed debt closes it. Calls are idempotent (keyed by source + source_ref),
and the bulk forms keep a scan at a constant number of queries however much debt it finds.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from maintenance.models import MaintenanceTask

SOURCE_CODEHEALTH = "codehealth"
BATCH = 500
PRIORITY_FOR_SEVERITY = {
    "critical": MaintenanceTask.Priority.URGENT,
    "high": MaintenanceTask.Priority.HIGH,
    "medium": MaintenanceTask.Priority.NORMAL,
    "low": MaintenanceTask.Priority.LOW,
}


@dataclass(frozen=True)
class DebtTask:
    fingerprint: str
    title: str
    description: str
    severity: str
    due_at: datetime | None


def tasks_open_for_debt(*, items: list[DebtTask], now: datetime | None = None) -> dict[str, int]:
    """Create or refresh one open refactor task per item. A task closed as done (the debt had
    been fixed) reopens when the debt comes back; a task someone cancelled stays cancelled.
    Returns counts: created, updated, reopened."""
    now = now or timezone.now()
    counts = {"created": 0, "updated": 0, "reopened": 0}
    if not items:
        return counts
    wanted = {item.fingerprint: item for item in items}
    refs = list(wanted)
    with transaction.atomic():
        # In chunks: one IN list per scan could pass the database's parameter limit on a large tree.
        existing = {
            task.source_ref: task
            for start in range(0, len(refs), BATCH)
            for task in MaintenanceTask.objects.select_for_update().filter(
                source=SOURCE_CODEHEALTH, source_ref__in=refs[start : start + BATCH]
            )
        }
        new, changed = [], []
        for ref, item in wanted.items():
            priority = PRIORITY_FOR_SEVERITY.get(item.severity, MaintenanceTask.Priority.NORMAL)
            task = existing.get(ref)
            if task is None:
                new.append(
                    MaintenanceTask(
                        kind=MaintenanceTask.Kind.REFACTOR,
                        title=item.title[:200],
                        description=item.description,
                        priority=priority,
                        due_at=item.due_at,
                        source=SOURCE_CODEHEALTH,
                        source_ref=ref,
                        created_at=now,
                        updated_at=now,
                    )
                )
                continue
            if task.status == MaintenanceTask.Status.CANCELLED:
                continue
            reopen = task.status == MaintenanceTask.Status.DONE
            if reopen or (task.title, task.description, task.priority) != (
                item.title[:200],
                item.description,
                priority,
            ):
                task.title, task.description, task.priority = item.title[:200], item.description, priority
                task.updated_at = now
                if reopen:
                    task.status_set(MaintenanceTask.Status.OPEN, now=now)
                    task.due_at = item.due_at
                    counts["reopened"] += 1
                else:
                    counts["updated"] += 1
                changed.append(task)
        MaintenanceTask.objects.bulk_create(new, batch_size=BATCH)
        MaintenanceTask.objects.bulk_update(
            changed,
            ["title", "description", "priority", "status", "closed_at", "due_at", "updated_at"],
            batch_size=BATCH,
        )
    counts["created"] = len(new)
    return counts


def tasks_close_for_debt(*, fingerprints: list[str], now: datetime | None = None) -> int:
    """Mark the open tasks of fixed debt done. Returns how many were closed."""
    if not fingerprints:
        return 0
    now = now or timezone.now()
    closed = 0
    for start in range(0, len(fingerprints), BATCH):
        closed += MaintenanceTask.objects.filter(
            source=SOURCE_CODEHEALTH,
            source_ref__in=fingerprints[start : start + BATCH],
            status=MaintenanceTask.Status.OPEN,
        ).update(**MaintenanceTask.status_fields(MaintenanceTask.Status.DONE, now=now))
    return closed


def task_open_for_debt(
    *, fingerprint: str, title: str, description: str, severity: str, due_at: datetime | None, now=None
) -> MaintenanceTask | None:
    """One item's form of `tasks_open_for_debt`; returns the task (None if it was cancelled)."""
    tasks_open_for_debt(items=[DebtTask(fingerprint, title, description, severity, due_at)], now=now)
    return MaintenanceTask.objects.filter(
        source=SOURCE_CODEHEALTH, source_ref=fingerprint, status=MaintenanceTask.Status.OPEN
    ).first()


def task_close_for_debt(*, fingerprint: str, now: datetime | None = None) -> bool:
    return tasks_close_for_debt(fingerprints=[fingerprint], now=now) == 1
