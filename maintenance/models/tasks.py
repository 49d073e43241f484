"""Maintenance tasks: a kind of work on an environment, its schedule, config and safety switches.

`refactor` tasks are human to-dos handed over by code health (maintenance/handoff.py); the other
kinds are carried out by the executor of their kind (maintenance/executors/) in runs.
"""

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from rest_framework.exceptions import ValidationError as ConfigError

from maintenance import schedule_words
from maintenance.executors.base import REGISTRY, config_validate

TIMEOUT_MIN, TIMEOUT_MAX, TIMEOUT_DEFAULT = 10, 6 * 3600, 1800
# Kinds that only read the environment (and report) run without waiting for an operator unless
# the task says otherwise; every other kind, including any added later, waits: safe by default.
READ_ONLY_KINDS = frozenset({"security_audit", "scaling_check"})
CONFIG_CHARS_MAX = 20_000


class MaintenanceTask(models.Model):
    class Kind(models.TextChoices):
        REFACTOR = "refactor"
        DEPENDENCY_UPDATE = "dependency_update", "Dependency update"
        SECURITY_AUDIT = "security_audit", "Security audit"
        CLEANUP = "cleanup"
        SCALING_CHECK = "scaling_check", "Scaling check"

    class Status(models.TextChoices):
        OPEN = "open"
        DONE = "done"
        CANCELLED = "cancelled"

    class Priority(models.TextChoices):
        LOW = "low"
        NORMAL = "normal"
        HIGH = "high"
        URGENT = "urgent"

    class Schedule(models.TextChoices):
        MANUAL = schedule_words.MANUAL
        DAILY = schedule_words.DAILY
        WEEKLY = schedule_words.WEEKLY
        MONTHLY = schedule_words.MONTHLY
        CRON = schedule_words.CRON

    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    due_at = models.DateTimeField(null=True, blank=True)
    # Who created the task and what it is about there, e.g. ("codehealth", "<repo id>:<fingerprint>").
    source = models.CharField(max_length=30, blank=True)
    source_ref = models.CharField(max_length=100, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    # What an executor acts on; empty for refactor to-dos. PROTECT: deleting an environment must
    # not silently delete the tasks (and their run history) that maintain it.
    environment = models.ForeignKey(
        "maintenance.Environment", null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    schedule = models.CharField(max_length=10, choices=Schedule.choices, default=Schedule.MANUAL)
    cron = models.CharField(
        max_length=schedule_words.CRON_MAX, blank=True, help_text="Five fields, for the cron schedule only."
    )
    time_of_day = models.TimeField(
        default=time(3, 0), help_text="For daily, weekly and monthly schedules, in the portal's time zone."
    )
    weekday = models.PositiveSmallIntegerField(
        default=0,
        choices=[(n, name) for n, name in enumerate(schedule_words.WEEKDAYS)],
        help_text="For the weekly schedule.",
    )
    day_of_month = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text="For the monthly schedule: 1-28, so every month has it.",
    )
    config = models.JSONField(default=dict, blank=True, help_text="Options of the task's kind.")
    # None: the kind's default (`approval_needed`). Stored values are kept as they were set, so a
    # task an admin decided about never changes behaviour when the per-kind defaults do.
    requires_approval = models.BooleanField(
        null=True,
        blank=True,
        default=None,
        help_text="Empty: the kind's default (kinds that change code or environments need approval; "
        "security audits and scaling checks do not).",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="maintenance_tasks",
    )
    enabled = models.BooleanField(default=True, help_text="Disabled tasks keep their history but never run.")
    timeout_seconds = models.PositiveIntegerField(
        default=TIMEOUT_DEFAULT,
        validators=[MinValueValidator(TIMEOUT_MIN), MaxValueValidator(TIMEOUT_MAX)],
        help_text=f"A run still going after this long is stopped and marked failed ({TIMEOUT_MIN}-{TIMEOUT_MAX} s).",
    )

    class Meta:
        ordering = ["status", "due_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_ref"],
                name="maintenance_task_source_ref",
                condition=~models.Q(source_ref=""),
            )
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="maintenance_task_due")]
        permissions = [("run_maintenancetask", "Can run a maintenance task now")]

    def __str__(self):
        return self.title

    @classmethod
    def status_fields(cls, status: str, *, now) -> dict:
        """The columns a status change sets, said once for the admin, the API and code health's
        hand-off (also as a bulk `update(**...)`): leaving `open` stamps `closed_at`, coming
        back clears it."""
        return {"status": status, "closed_at": None if status == cls.Status.OPEN else now, "updated_at": now}

    def status_set(self, status: str, *, now) -> None:
        for name, value in self.status_fields(status, now=now).items():
            setattr(self, name, value)

    @classmethod
    def approval_default(cls, kind: str) -> bool:
        """Whether a run of this kind waits for an operator when its task does not say."""
        return kind not in READ_ONLY_KINDS

    @property
    def approval_needed(self) -> bool:
        """The rule the runner follows and the pages, admin and API show: the task's own
        `requires_approval` when set, else the kind's default."""
        if self.requires_approval is None:
            return self.approval_default(self.kind)
        return self.requires_approval

    @property
    def runnable(self) -> bool:
        """Only executor kinds run; refactor tasks are done by people."""
        return self.kind != self.Kind.REFACTOR

    def clean(self):
        """One set of rules for the admin form and the API (which calls this too)."""
        errors: dict[str, str] = {}
        if self.schedule == self.Schedule.CRON:
            problem = schedule_words.cron_error(self.cron)
            if problem:
                errors["cron"] = problem
        if not self.runnable:
            if self.schedule != self.Schedule.MANUAL:
                errors["schedule"] = "Refactor tasks are done by people: they have no schedule."
            if self.config:
                errors["config"] = "Refactor tasks have no config."
        else:
            if self.environment_id is None:
                errors["environment"] = f"A {self.get_kind_display().lower()} task needs an environment."
            if not isinstance(self.config, dict):
                errors["config"] = "Must be a JSON object."
            elif len(str(self.config)) > CONFIG_CHARS_MAX:
                errors["config"] = f"At most {CONFIG_CHARS_MAX} characters."
            elif self.kind in REGISTRY:
                try:
                    config_validate(self.kind, self.config)
                except ConfigError as exc:
                    errors["config"] = _flatten(exc.detail)
        if errors:
            raise ValidationError(errors)

    def cron_expression(self) -> str | None:
        """The cron expression the schedule means (None when manual, disabled or not runnable)."""
        if not self.enabled or not self.runnable or self.status != self.Status.OPEN:
            return None
        return schedule_words.cron_for(
            self.schedule, at=self.time_of_day, weekday=self.weekday, day_of_month=self.day_of_month, cron=self.cron
        )

    def schedule_in_words(self) -> str:
        words = schedule_words.schedule_words(
            self.schedule,
            at=self.time_of_day,
            weekday=self.weekday,
            day_of_month=self.day_of_month,
            cron=self.cron,
            zone=settings.TIME_ZONE,
        )
        return words if self.enabled or self.schedule == self.Schedule.MANUAL else f"{words} (disabled)"


def _flatten(detail) -> str:
    """DRF's nested error detail as one line naming each config key."""
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)
