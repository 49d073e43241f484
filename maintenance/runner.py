"""Runs, one function per transition.

    run_queue ──> queued ──run_claim──> running ──run_plan──> waiting_approval ──run_approve──> queued
                                           │                          └──run_reject──> cancelled
                                           └──run_apply──> run_finish: succeeded / failed / partial / rolled_back
    queued / waiting_approval ──run_cancel──> cancelled (by an operator, or the sweep when approval expired)

A worker owns a run between `run_claim` and `run_finish`: the claim is a conditional UPDATE
(`status = queued`), and a partial unique constraint (one `running` run per task) keeps two runs
of one task from running at once, whichever workers or machines pick them up. While it works, a
heartbeat thread stamps `heartbeat_at`; `runs_sweep` fails runs whose worker went quiet or whose
deadline passed. Every write after the claim compares the claim token, so a worker that comes
back after the sweep gave up on it changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone
from django_q.tasks import async_task
from rest_framework.exceptions import ValidationError as ConfigError

from maintenance.executors import REGISTRY, executor_for
from maintenance.executors.base import FAILED, PARTIAL, ROLLED_BACK, SUCCEEDED, Plan, RunContext, config_validate
from maintenance.models import MaintenanceRun, MaintenanceTask, RunStatus
from maintenance.models.runs import SUMMARY_MAX, change_figures
from maintenance.runlog import RunLog

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15
# A run whose heartbeat is older than this lost its worker (killed, machine gone).
STALE_AFTER = timedelta(minutes=2)
# The sweep gives a run this long past its deadline to finish on its own before failing it.
DEADLINE_GRACE = timedelta(seconds=30)
# A queued run nobody claimed for this long (its worker task was lost, or another run of the
# task was running) is handed to the workers again.
REQUEUE_AFTER = timedelta(minutes=2)
# Expired approvals cancelled per sweep: bounded, so a backlog spreads over the next minutes.
EXPIRE_BATCH, EXPIRE_BATCHES = 100, 5
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
OUTCOME_STATUSES = {SUCCEEDED, FAILED, PARTIAL, ROLLED_BACK}


class RunRefused(Exception):
    """A transition that is not allowed now; the message says why (shown to the person)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _enqueue(run: MaintenanceRun, timeout_seconds: int) -> None:
    # The cluster's own limit stops a worker stuck in Python code (subprocesses have their own
    # timeouts); a killed worker leaves a silent heartbeat for the sweep.
    transaction.on_commit(
        lambda: async_task(
            "maintenance.tasks.run_execute",
            run.pk,
            q_options={"timeout": timeout_seconds + 60, "task_name": f"maintenance run {run.pk}"},
        )
    )


def run_queue(
    *,
    task: MaintenanceTask,
    trigger: str,
    by=None,
    plan_only: bool = False,
    enqueue: bool = True,
    now: datetime | None = None,
) -> MaintenanceRun:
    """A new queued run of `task`, handed to the workers once committed (unless `enqueue` is
    False: `manage.py maintenance run` carries it out itself). Refused while another run of the
    task is queued or running (a second would only wait for the first)."""
    now = now or timezone.now()
    if not task.runnable:
        raise RunRefused("Refactor tasks are done by people; they have no runs.")
    if task.environment_id is None:
        raise RunRefused("The task has no environment.")
    if not task.enabled and trigger == MaintenanceRun.Trigger.SCHEDULE:
        raise RunRefused("The task is disabled.")
    with transaction.atomic():
        # Two "run now"s at once: the task row lock makes the second see the first one's run.
        locked = MaintenanceTask.objects.select_for_update().filter(pk=task.pk).first()
        if locked is None:
            raise RunRefused("The task no longer exists.")
        current = MaintenanceRun.objects.filter(task=task, status__in=ACTIVE).order_by("-id").first()
        if current is not None:
            raise RunRefused(f"Run {current.pk} of this task is already {current.status}.")
        run = MaintenanceRun.objects.create(
            task=task, trigger=trigger, requested_by=by, plan_only=plan_only, created_at=now
        )
        if enqueue:
            _enqueue(run, locked.timeout_seconds)
    return run


def run_claim(*, run_id: int, worker: str, now: datetime | None = None) -> str | None:
    """Take a queued run for this worker; returns the claim token, or None when the run is not
    queued any more or another run of its task is running (it stays queued; the sweep retries)."""
    now = now or timezone.now()
    timeout = MaintenanceRun.objects.filter(pk=run_id).values_list("task__timeout_seconds", flat=True).first()
    if timeout is None:
        return None
    token = uuid.uuid4().hex
    try:
        with transaction.atomic():
            claimed = MaintenanceRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
                status=RunStatus.RUNNING,
                claimed_by=worker[:200],
                claim_token=token,
                started_at=Coalesce(F("started_at"), Value(now)),
                heartbeat_at=now,
                deadline_at=now + timedelta(seconds=timeout),
            )
    except IntegrityError:  # maintenance_run_one_running: another run of this task holds it
        return None
    return token if claimed else None


def _owned(run_id: int, token: str):
    return MaintenanceRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, claim_token=token)


def _jsonable(value):
    """What an executor returned, as plain JSON (anything else becomes its string form)."""
    return json.loads(json.dumps(value, default=str))


def run_plan(*, run_id: int, token: str, plan: Plan, log: RunLog, needs_approval: bool, now=None) -> str:
    """Store the plan; the run then waits for approval, ends (empty plan, plan-only run), or goes
    on to apply. Returns the next step: "approval", "done" or "apply"."""
    now = now or timezone.now()
    stored = _jsonable({"summary": plan.summary, "items": plan.items})
    if plan.empty:
        run_finish(run_id=run_id, token=token, status=SUCCEEDED, summary=f"Nothing to do: {plan.summary}", log=log,
                   plan=stored, now=now)  # fmt: skip
        return "done"
    plan_only = MaintenanceRun.objects.filter(pk=run_id).values_list("plan_only", flat=True).first()
    if plan_only:
        run_finish(run_id=run_id, token=token, status=SUCCEEDED, summary=f"Planned only: {plan.summary}", log=log,
                   plan=stored, now=now)  # fmt: skip
        return "done"
    if needs_approval:
        log("Plan waits for approval by an operator.")
        moved = _owned(run_id, token).update(
            status=RunStatus.WAITING_APPROVAL,
            plan=stored,
            summary=f"Waiting for approval: {plan.summary}"[:SUMMARY_MAX],
            log=log.text(),
            claim_token="",
            heartbeat_at=None,
            deadline_at=None,
        )
        return "approval" if moved else "done"
    _owned(run_id, token).update(plan=stored, log=log.text())
    return "apply"


def _decide(*, run: MaintenanceRun, by, approve: bool, now: datetime | None) -> MaintenanceRun:
    now = now or timezone.now()
    with transaction.atomic():
        locked = MaintenanceRun.objects.select_for_update().select_related("task").filter(pk=run.pk).first()
        if locked is None or locked.status != RunStatus.WAITING_APPROVAL:
            state = "gone" if locked is None else locked.status
            raise RunRefused(f"Only a run waiting for approval can be approved or rejected (this one is {state}).")
        who = getattr(by, "get_username", lambda: "someone")()
        locked.decision = MaintenanceRun.Decision.APPROVED if approve else MaintenanceRun.Decision.REJECTED
        locked.decided_by, locked.decided_at = by, now
        verb = "Approved" if approve else "Rejected"
        locked.log = f"{locked.log}\n{now:%H:%M:%S} {verb} by {who}.".lstrip("\n")
        if approve:
            locked.status = RunStatus.QUEUED
            locked.summary = f"Approved by {who}; queued to apply."[:SUMMARY_MAX]
            _enqueue(locked, locked.task.timeout_seconds)
        else:
            locked.status, locked.finished_at = RunStatus.CANCELLED, now
            locked.summary = f"Rejected by {who}."[:SUMMARY_MAX]
        locked.save(update_fields=["decision", "decided_by", "decided_at", "log", "status", "summary", "finished_at"])
    return locked


def run_approve(*, run: MaintenanceRun, by, now: datetime | None = None) -> MaintenanceRun:
    """An operator lets the stored plan be applied: the run is queued again for a worker."""
    return _decide(run=run, by=by, approve=True, now=now)


def run_reject(*, run: MaintenanceRun, by, now: datetime | None = None) -> MaintenanceRun:
    return _decide(run=run, by=by, approve=False, now=now)


CANCELLABLE = (RunStatus.QUEUED, RunStatus.WAITING_APPROVAL)
REASON_MAX = 200


def run_cancel(
    *, run: MaintenanceRun, by, reason: str = "", now: datetime | None = None, only_from=CANCELLABLE
) -> MaintenanceRun:
    """Stop a run before a worker has it: queued or waiting for approval → cancelled. A running
    run is refused (its worker may be half way through a change; it ends by itself or by the
    sweep). A worker's claim needs `status = queued`, so once this commits no worker runs it.
    `only_from` narrows the statuses (the expiry sweep must not cancel a plan approved meanwhile)."""
    now = now or timezone.now()
    reason = " ".join(str(reason).split())[:REASON_MAX]
    with transaction.atomic():
        locked = MaintenanceRun.objects.select_for_update().filter(pk=run.pk).first()
        if locked is None or locked.status not in CANCELLABLE or locked.status not in only_from:
            state = "gone" if locked is None else locked.status
            raise RunRefused(f"Only a queued run or one waiting for approval can be cancelled (this one is {state}).")
        who = by.get_username() if by is not None else "the portal"
        said = f"Cancelled by {who}" + (f": {reason}." if reason else ".")
        locked.status, locked.finished_at = RunStatus.CANCELLED, now
        locked.summary = said[:SUMMARY_MAX]
        locked.log = f"{locked.log}\n{now:%H:%M:%S} {said}".lstrip("\n")
        locked.claim_token, locked.heartbeat_at, locked.deadline_at = "", None, None
        locked.save(
            update_fields=["status", "finished_at", "summary", "log", "claim_token", "heartbeat_at", "deadline_at"]
        )
    return locked


def run_finish(
    *,
    run_id: int,
    token: str,
    status: str,
    summary: str,
    log: RunLog,
    changes: dict | None = None,
    plan: dict | None = None,
    now: datetime | None = None,
) -> bool:
    """The final status; False when the run was no longer this worker's (the sweep failed it)."""
    now = now or timezone.now()
    fields = {
        "status": status,
        "summary": summary[:SUMMARY_MAX],
        "log": log.text(),
        "finished_at": now,
        "heartbeat_at": None,
        "changes": _jsonable(changes or {}),
        **change_figures(changes),
    }
    if plan is not None:
        fields["plan"] = plan
    done = _owned(run_id, token).update(**fields) == 1
    if not done:
        logger.warning("maintenance run %s: finished after it was taken from this worker; result dropped", run_id)
    return done


def run_apply(*, run_id: int, token: str, executor, ctx: RunContext, plan: Plan, log: RunLog, now=None) -> str:
    """Let the executor carry out the plan and record its outcome; returns the final status."""
    outcome = executor.apply(ctx, plan)
    status = outcome.status if outcome.status in OUTCOME_STATUSES else FAILED
    if status != outcome.status:
        log(f"The executor returned an unknown status {outcome.status!r}: recorded as failed.")
    run_finish(run_id=run_id, token=token, status=status, summary=outcome.summary, log=log,
               changes=outcome.changes, now=now)  # fmt: skip
    return status


@dataclass
class _Heartbeat:
    """Stamps the claim alive and saves the log every HEARTBEAT_SECONDS while the worker works."""

    run_id: int
    token: str
    log: RunLog

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"maintenance-heartbeat-{self.run_id}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self):
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                fields = {"heartbeat_at": timezone.now()}
                if self.log.changed:
                    self.log.changed = False
                    fields["log"] = self.log.text()
                if not _owned(self.run_id, self.token).update(**fields):
                    return  # the sweep took the run: nothing left to keep alive
        except Exception:  # a database hiccup must not end the run; the sweep judges silence
            logger.exception("maintenance run %s: heartbeat failed", self.run_id)
        finally:
            connection.close()  # this thread's own connection


def run_execute(*, run_id: int, worker: str | None = None, progress=None, echo=None) -> str:
    """The worker's whole part: claim, plan, and apply or wait for approval. Never raises:
    whatever goes wrong ends as a failed run with the error in its log. Returns the run status.
    `progress(step)` hears "plan" and "apply"; `echo(line)` hears each log line (the command)."""
    token = run_claim(run_id=run_id, worker=worker or worker_name())
    if token is None:
        return MaintenanceRun.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
    run = MaintenanceRun.objects.select_related("task", "task__environment").get(pk=run_id)
    task = run.task
    log = RunLog(run.log, echo=echo)
    say = progress or (lambda step: None)
    with _Heartbeat(run_id, token, log):
        try:
            return _execute(run=run, task=task, token=token, log=log, say=say)
        except Exception as exc:
            logger.exception("maintenance run %s failed", run_id)
            log(f"Error: {type(exc).__name__}: {exc}")
            run_finish(run_id=run_id, token=token, status=FAILED, summary=f"Failed: {exc}", log=log)
            return FAILED


def _execute(*, run: MaintenanceRun, task: MaintenanceTask, token: str, log: RunLog, say) -> str:
    if task.kind not in REGISTRY:
        log(f"No executor is installed for the kind {task.kind!r}.")
        run_finish(run_id=run.pk, token=token, status=FAILED, summary=f"No executor for {task.kind}.", log=log)
        return FAILED
    try:
        config = config_validate(task.kind, task.config)
    except ConfigError as exc:
        log(f"Invalid config: {exc.detail}")
        run_finish(run_id=run.pk, token=token, status=FAILED, summary="The task's config is invalid.", log=log)
        return FAILED
    executor = executor_for(task.kind)
    environment = type(task.environment).objects.prefetch_related("health_checks").get(pk=task.environment_id)
    ctx = RunContext(
        target=environment.target(),
        config=config,
        log=log,
        deadline=time.monotonic() + task.timeout_seconds,
        run_id=run.pk,
    )
    if run.decision == MaintenanceRun.Decision.APPROVED and run.plan is not None:
        plan = Plan(summary=run.plan.get("summary", ""), items=list(run.plan.get("items", [])))
        log(f"Applying the approved plan: {plan.summary}")
    else:
        say("plan")
        log(f"Planning {task.get_kind_display().lower()} on {environment.name}.")
        plan = executor.plan(ctx)
        step = run_plan(run_id=run.pk, token=token, plan=plan, log=log, needs_approval=task.approval_needed)
        if step != "apply":
            return MaintenanceRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
    say("apply")
    return run_apply(run_id=run.pk, token=token, executor=executor, ctx=ctx, plan=plan, log=log)


def runs_expire(*, now: datetime) -> dict[str, int]:
    """Cancel plans that waited for approval longer than MAINTENANCE_APPROVAL_EXPIRY_HOURS, through
    run_cancel, in batches by id (at most EXPIRE_BATCHES x EXPIRE_BATCH a sweep; the next sweep
    goes on). A run decided meanwhile is skipped; a row that fails is logged and passed over, so it
    never stops the others."""
    counts = {"expired": 0, "expire_failed": 0}
    # The plan is stored within the run's timeout of its claim, so started_at is when it began to wait.
    cutoff = now - timedelta(hours=settings.MAINTENANCE_APPROVAL_EXPIRY_HOURS)
    expired = MaintenanceRun.objects.filter(status=RunStatus.WAITING_APPROVAL).alias(
        waiting_since=Coalesce("started_at", "created_at")
    )
    expired = expired.filter(waiting_since__lt=cutoff).only("id").order_by("id")
    after = 0
    for _ in range(EXPIRE_BATCHES):
        batch = list(expired.filter(id__gt=after)[:EXPIRE_BATCH])
        for run in batch:
            try:
                run_cancel(
                    run=run, by=None, reason="approval expired", now=now, only_from=(RunStatus.WAITING_APPROVAL,)
                )
                counts["expired"] += 1
            except RunRefused:
                pass  # approved, rejected or cancelled since it was read
            except Exception:
                logger.exception("maintenance run %s: could not expire its approval", run.pk)
                counts["expire_failed"] += 1
        if len(batch) < EXPIRE_BATCH:
            break
        after = batch[-1].pk
    return counts


def runs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Fail runs past their deadline or whose worker went quiet; hand long-queued runs to the
    workers again; cancel plans whose approval expired. Each row is changed by a conditional
    UPDATE (or under its row lock), so two sweeps agree."""
    now = now or timezone.now()
    counts = {"timed_out": 0, "worker_lost": 0, "requeued": 0, **runs_expire(now=now)}
    stale = Q(heartbeat_at__lt=now - STALE_AFTER) | Q(heartbeat_at__isnull=True)
    running = MaintenanceRun.objects.filter(status=RunStatus.RUNNING)
    for run in running.filter(Q(deadline_at__lt=now - DEADLINE_GRACE) | stale).only(
        "id", "claim_token", "deadline_at", "heartbeat_at", "claimed_by"
    ):
        if run.deadline_at is not None and run.deadline_at < now - DEADLINE_GRACE:
            key, why = (
                "timed_out",
                f"Timed out: still running at its deadline ({run.deadline_at:%Y-%m-%d %H:%M:%S} UTC).",
            )
        else:
            seen = f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" if run.heartbeat_at else "never"
            key, why = "worker_lost", f"Worker {run.claimed_by or '?'} stopped responding (last heartbeat {seen})."
        counts[key] += MaintenanceRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, claim_token=run.claim_token
        ).update(
            status=RunStatus.FAILED,
            summary=why[:SUMMARY_MAX],
            finished_at=now,
            heartbeat_at=None,
            log=Concat(F("log"), Value(f"\n{now:%H:%M:%S} {why}")),
        )
    # For a queued run, heartbeat_at is when it was last handed to the workers (the claim
    # overwrites it): each sweep hands a run over at most once per REQUEUE_AFTER.
    last_handed = Coalesce("heartbeat_at", "decided_at", "created_at")
    waiting = MaintenanceRun.objects.alias(last_handed=last_handed).filter(
        status=RunStatus.QUEUED, last_handed__lt=now - REQUEUE_AFTER
    )
    for run in waiting.select_related("task").only("id", "heartbeat_at", "task__timeout_seconds")[:100]:
        with transaction.atomic():
            if MaintenanceRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED, heartbeat_at=run.heartbeat_at).update(
                heartbeat_at=now
            ):
                _enqueue(run, run.task.timeout_seconds)
                counts["requeued"] += 1
    return counts
