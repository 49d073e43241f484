"""`manage.py maintenance run TASK [--plan]` and `manage.py maintenance list`.

`run` carries the run out in this process (no worker needed) and follows its log; on a terminal
with a rich progress display, in a log as plain lines. A task that requires approval stops after
its plan: an operator approves it on the run page or the API, and a worker applies it.
Exit status: 0 succeeded or waiting for approval, 1 any other end (failed, rolled back, partial,
cancelled), 2 when the run could not start (no such task, another run in progress, ...).
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from maintenance.models import MaintenanceRun, MaintenanceTask
from maintenance.runner import RunRefused, run_execute, run_queue
from maintenance.schedules import task_next_runs
from maintenance.summary import with_last_run

DID_NOT_END_WELL, CANNOT_RUN = 1, 2
GOOD_ENDS = ("succeeded", "waiting_approval")
STEPS = {"plan": "Planning", "apply": "Applying"}


class Command(BaseCommand):
    help = "Run a maintenance task now (optionally only its plan), or list the tasks."
    requires_system_checks = []

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{run,list}")
        run = actions.add_parser("run", help="run a task now in this process; exit 1 unless it succeeds")
        run.add_argument("task", help="task id, or its exact title")
        run.add_argument("--plan", action="store_true", help="only plan: show what would change, change nothing")
        actions.add_parser("list", help="list the tasks with their schedules and last results")

    def handle(self, *args, action, **options):
        if action == "list":
            return self.list_tasks()
        return self.run_task(options["task"], plan_only=options["plan"])

    def find(self, ref: str) -> MaintenanceTask:
        tasks = MaintenanceTask.objects.select_related("environment")
        found = tasks.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 19 else None
        if found is None:
            matches = list(tasks.filter(title=ref)[:2])
            if len(matches) > 1:
                raise CommandError(f"{ref!r}: several tasks have this title; give the id", returncode=CANNOT_RUN)
            found = matches[0] if matches else None
        if found is None:
            raise CommandError(f"{ref!r}: no such task (see `manage.py maintenance list`)", returncode=CANNOT_RUN)
        return found

    def run_task(self, ref: str, *, plan_only: bool):
        task = self.find(ref)
        try:
            run = run_queue(task=task, trigger=MaintenanceRun.Trigger.MANUAL, plan_only=plan_only, enqueue=False)
        except RunRefused as exc:
            raise CommandError(f"{task.title}: {exc}", returncode=CANNOT_RUN) from None
        self.stdout.write(f"Run #{run.pk} of task {task.pk} ({task.title}) on {task.environment.name}")
        if self.stdout.isatty():
            status = self.run_with_progress(run)
        else:
            status = run_execute(
                run_id=run.pk,
                progress=lambda step: self.stdout.write(f"{STEPS.get(step, step)}…"),
                echo=self.stdout.write,
            )
        run.refresh_from_db()
        self.stdout.write(f"{run.get_status_display()}: {run.summary}")
        if status == "waiting_approval":
            self.stdout.write("An operator approves or rejects the plan on the run's page or with the API.")
        if status not in GOOD_ENDS:
            raise CommandError(f"run #{run.pk} ended {status}", returncode=DID_NOT_END_WELL)

    def run_with_progress(self, run) -> str:
        # rich only on a terminal: a log gets plain lines, and short commands skip the import.
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        # The stream under Django's OutputWrapper, which would add a newline to each of rich's writes.
        console = Console(file=getattr(self.stdout, "_out", sys.stdout), force_terminal=True)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            bar = progress.add_task("Starting", total=2)

            def step(name):
                progress.update(bar, description=STEPS.get(name, name), advance=1 if name == "apply" else 0)

            status = run_execute(
                run_id=run.pk,
                progress=step,
                echo=lambda line: progress.console.print(line, markup=False, highlight=False),
            )
            progress.update(bar, completed=2, description="Done")
        return status

    def list_tasks(self):
        now = timezone.now()
        tasks = with_last_run(MaintenanceTask.objects.select_related("environment")).exclude(
            kind=MaintenanceTask.Kind.REFACTOR
        )
        rows = [("ID", "KIND", "TITLE", "ENVIRONMENT", "SCHEDULE", "NEXT RUN", "LAST RUN")]
        for task in tasks.order_by("id"):
            upcoming = task_next_runs(task, now=now, count=1)
            rows.append(
                (
                    str(task.pk),
                    task.kind,
                    task.title,
                    task.environment.name if task.environment else "-",
                    task.schedule_in_words(),
                    upcoming[0].strftime("%Y-%m-%d %H:%M %Z") if upcoming else "-",
                    f"#{task.last_run_id} {task.last_run_status}" if task.last_run_id else "never",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if len(rows) == 1:
            self.stdout.write("No maintenance tasks yet (refactor to-dos are on the maintenance page).")
