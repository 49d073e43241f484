"""Pages: the task list (schedule in words, next run, last result, "run now"), a run's detail
(plan, changes, log, approve/reject/cancel) and open vulnerabilities across environments. The POSTs call
the same runner functions as the API."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from maintenance.models import MaintenanceRun, MaintenanceTask, RunStatus
from maintenance.runner import CANCELLABLE, RunRefused, run_approve, run_cancel, run_queue, run_reject
from maintenance.schedules import task_next_runs
from maintenance.summary import open_vulnerabilities, with_last_run
from portal.access import operator_required, viewer_required
from portal.roles import OPERATOR, has_role

PAGE_SIZE = 50
PLAN_COLUMNS_MAX = 6
PLAN_ROWS_MAX = 500


@viewer_required
def index(request):
    kind = request.GET.get("kind", "")
    tasks = with_last_run(MaintenanceTask.objects.select_related("environment", "assignee")).order_by(
        "kind", "title", "id"
    )
    if kind in MaintenanceTask.Kind.values:
        tasks = tasks.filter(kind=kind)
    else:
        kind = ""
        # Refactor to-dos come from code health by the hundred; they are listed when asked for.
        tasks = tasks.exclude(kind=MaintenanceTask.Kind.REFACTOR)
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(task, (task_next_runs(task, now=now, count=1) or [None])[0]) for task in page]
    waiting = MaintenanceRun.objects.filter(status=RunStatus.WAITING_APPROVAL).select_related("task")[:20]
    recent = MaintenanceRun.objects.select_related("task", "task__environment")[:20]
    context = {
        "rows": rows,
        "page": page,
        "kind": kind,
        "kinds": MaintenanceTask.Kind.choices,
        "waiting": waiting,
        "recent": recent,
        "can_run": has_role(request.user, OPERATOR),
        "refactor_open": MaintenanceTask.objects.filter(
            kind=MaintenanceTask.Kind.REFACTOR, status=MaintenanceTask.Status.OPEN
        ).count(),
    }
    return render(request, "maintenance/index.html", context)


def _plan_table(plan) -> tuple[list[str], list[list]]:
    """The plan's items as a table: the keys the items share (first seen first), bounded."""
    items = (plan or {}).get("items") or []
    columns: list[str] = []
    for item in items[:PLAN_ROWS_MAX]:
        if isinstance(item, dict):
            columns.extend(k for k in item if k not in columns)
    columns = columns[:PLAN_COLUMNS_MAX]
    rows = [[item.get(c, "") for c in columns] if isinstance(item, dict) else [item] for item in items[:PLAN_ROWS_MAX]]
    return columns, rows


@viewer_required
def run_detail(request, pk: int):
    run = get_object_or_404(
        MaintenanceRun.objects.select_related("task", "task__environment", "requested_by", "decided_by"), pk=pk
    )
    columns, rows = _plan_table(run.plan)
    changes = run.changes if isinstance(run.changes, dict) else {}
    context = {
        "run": run,
        "plan_columns": columns,
        "plan_rows": rows,
        "plan_more": max(0, len((run.plan or {}).get("items") or []) - PLAN_ROWS_MAX),
        "changes": changes,
        "other_changes": {
            k: v
            for k, v in changes.items()
            if k not in ("packages", "vulnerabilities", "incomplete", "recommendations", "removed")
        },
        "can_decide": has_role(request.user, OPERATOR) and run.status == RunStatus.WAITING_APPROVAL,
        "in_progress": run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
        "can_cancel": has_role(request.user, OPERATOR) and run.status in CANCELLABLE,
    }
    return render(request, "maintenance/run.html", context)


@viewer_required
def vulnerabilities(request):
    return render(request, "maintenance/vulnerabilities.html", open_vulnerabilities())


@require_POST
@operator_required
def run_now(request, pk: int):
    task = get_object_or_404(MaintenanceTask, pk=pk)
    plan_only = request.POST.get("plan_only") == "1"
    try:
        run = run_queue(task=task, trigger=MaintenanceRun.Trigger.MANUAL, by=request.user, plan_only=plan_only)
    except RunRefused as exc:
        messages.error(request, str(exc))
        return redirect("maintenance:index")
    messages.success(request, f"Run #{run.pk} queued{' (plan only)' if plan_only else ''}.")
    return redirect("maintenance:run", pk=run.pk)


@require_POST
@operator_required
def run_decide(request, pk: int, decision: str):
    run = get_object_or_404(MaintenanceRun, pk=pk)
    decide = {"approve": run_approve, "reject": run_reject}[decision]
    try:
        decide(run=run, by=request.user)
    except RunRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Approved: a worker applies the plan." if decision == "approve" else "Rejected.")
    return redirect("maintenance:run", pk=run.pk)


@require_POST
@operator_required
def run_cancel_page(request, pk: int):
    run = get_object_or_404(MaintenanceRun, pk=pk)
    try:
        run_cancel(run=run, by=request.user, reason=request.POST.get("reason", ""))
    except RunRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Cancelled: no worker will run it.")
    return redirect("maintenance:run", pk=run.pk)
