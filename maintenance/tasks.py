"""django-q2 entry points. They take ids, load fresh state and are safe to run twice."""

from django.utils import timezone

from maintenance import runner
from maintenance.models import MaintenanceRun, MaintenanceTask
from maintenance.schedules import task_schedule_sync


def run_execute(run_id: int) -> str:
    """Claim and carry out one queued run (a second delivery finds it claimed and does nothing)."""
    return runner.run_execute(run_id=run_id)


def task_run_scheduled(task_id: int) -> str:
    """A task's schedule came due: queue a run, unless the task changed since (then its schedule
    is brought in line) or a run of it is still queued or running."""
    task = MaintenanceTask.objects.filter(pk=task_id).first()
    if task is None or task.cron_expression() is None:
        if task is not None:
            task_schedule_sync(task=task)
        else:
            task_schedule_sync(task=MaintenanceTask(pk=task_id), deleted=True)
        return "not scheduled"
    try:
        run = runner.run_queue(task=task, trigger=MaintenanceRun.Trigger.SCHEDULE, now=timezone.now())
    except runner.RunRefused as exc:
        return f"skipped: {exc}"
    return f"queued run {run.pk}"


def runs_sweep() -> dict:
    return runner.runs_sweep()
