"""Runs: one execution of a task, from queued to a final status, with its plan, log and changes."""

from django.conf import settings
from django.db import models
from django.db.models import Q

LOG_MAX_CHARS = 64_000  # head + tail kept by maintenance.runlog.RunLog
SUMMARY_MAX = 500


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval", "Waiting for approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIAL = "partial"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled"


FINAL_STATUSES = (
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.PARTIAL,
    RunStatus.ROLLED_BACK,
    RunStatus.CANCELLED,
)


FIGURE_MAX = 10**15  # a figure above this (or not a whole number >= 0) is not one: counted as 0


def _figure(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < FIGURE_MAX:
        return 0
    return int(value)


def change_figures(changes) -> dict[str, int]:
    """The columns `bytes_freed`, `files_removed` and `packages_updated` of a run's `changes`
    (the keys documented in maintenance/executors/base.py)."""
    changes = changes if isinstance(changes, dict) else {}
    packages = changes.get("packages")
    return {
        "bytes_freed": _figure(changes.get("bytes_freed")),
        "files_removed": _figure(changes.get("files_removed")),
        "packages_updated": len(packages) if isinstance(packages, list) else 0,
    }


class MaintenanceRun(models.Model):
    Status = RunStatus

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"
        APPROVAL = "approval"  # created by approving something else, e.g. an audit's proposed fix

    class Decision(models.TextChoices):
        NONE = "", "Not decided"
        APPROVED = "approved"
        REJECTED = "rejected"

    task = models.ForeignKey("maintenance.MaintenanceTask", on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Plan only: the run stops after planning, whatever the task's approval setting says.
    plan_only = models.BooleanField(default=False)
    plan = models.JSONField(null=True, blank=True, help_text='{"summary": ..., "items": [...]}')
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.NONE, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.CharField(max_length=SUMMARY_MAX, blank=True)
    log = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)
    # The figures reporting sums, copied from `changes` when the run finishes (run_finish), so a
    # summary over months of runs adds up integer columns instead of parsing every run's JSON.
    bytes_freed = models.BigIntegerField(default=0, editable=False)
    files_removed = models.BigIntegerField(default=0, editable=False)
    packages_updated = models.IntegerField(default=0, editable=False)
    # The claim: which worker holds the run, with a token a late worker compares before writing
    # (a run the sweep failed must not be overwritten by the worker that comes back).
    claimed_by = models.CharField(max_length=200, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["task", "-created_at"], name="maintenance_run_task"),
            models.Index(fields=["-created_at"], name="maintenance_run_created"),
            # Also covers the summary's sums of the figures: a run's row holds its log (up to
            # 64 kB), so reading rows, not adding numbers, would be the cost.
            models.Index(
                fields=["status", "-created_at", "bytes_freed", "files_removed", "packages_updated"],
                name="maintenance_run_status_sums",
            ),
            # Covers the summary's runs per day and status without reading the runs themselves.
            models.Index(fields=["created_at", "status"], name="maintenance_run_day"),
        ]
        constraints = [
            # The database, not a lock in one process, keeps two runs of a task from running at once.
            models.UniqueConstraint(
                fields=["task"], condition=Q(status=RunStatus.RUNNING), name="maintenance_run_one_running"
            ),
        ]
        permissions = [("approve_maintenancerun", "Can approve or reject a maintenance run")]

    def __str__(self):
        return f"Run {self.pk} of {self.task_id} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES
