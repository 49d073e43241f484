"""django-q2 schedules of maintenance: one per scheduled task, and the per-minute sweep.

`task_schedule_sync` is the one place a task's `Schedule` row is made to match the task; the
post_save / post_delete receivers in apps.py call it (also for the admin's bulk delete). Every
schedule type is stored as a CRON schedule built from `MaintenanceTask.cron_expression()`, the same
expression the pages read next run times from, so what is shown is what runs.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django_q.models import Schedule

from maintenance import schedule_words
from portal.schedules import Periodic

SCHEDULES = [Periodic(name="maintenance.runs_sweep", func="maintenance.tasks.runs_sweep", minutes=1)]
TASK_FUNC = "maintenance.tasks.task_run_scheduled"


def schedule_name(task_id: int) -> str:
    return f"maintenance-task-{task_id}"


def task_schedule_sync(*, task, deleted: bool = False, now: datetime | None = None) -> str:
    """Create, update or remove the task's django-q2 schedule; returns what it did:
    created / updated / unchanged / removed / none."""
    name = schedule_name(task.pk)
    expression = None if deleted else task.cron_expression()
    if expression is None:
        return "removed" if Schedule.objects.filter(name=name).delete()[0] else "none"
    now = timezone.localtime(now or timezone.now())  # django-q2 reads cron in the portal's zone
    wanted = {
        "func": TASK_FUNC,
        "args": str(task.pk),
        "schedule_type": Schedule.CRON,
        "cron": expression,
        "repeats": -1,
    }
    row = Schedule.objects.filter(name=name).first()
    if row is None:
        first = schedule_words.next_runs(expression, after=now, count=1)[0]
        Schedule.objects.create(name=name, next_run=first, **wanted)
        return "created"
    changed = {key: value for key, value in wanted.items() if getattr(row, key) != value}
    if not changed:
        return "unchanged"
    if "cron" in changed:
        changed["next_run"] = schedule_words.next_runs(expression, after=now, count=1)[0]
    Schedule.objects.filter(pk=row.pk).update(**changed)
    return "updated"


def task_next_runs(task, *, now: datetime | None = None, count: int = 3) -> list[datetime]:
    now = timezone.localtime(now or timezone.now())
    return schedule_words.next_runs(task.cron_expression(), after=now, count=count)
