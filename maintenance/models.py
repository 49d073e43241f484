"""Models of the maintenance app.

Only `MaintenanceTask` exists yet, in the shape code health needs to hand over refactoring
work. Environments, schedules, runs and executors come with the maintenance issue; they add
fields and kinds here without changing what exists.
"""

from django.db import models


class MaintenanceTask(models.Model):
    class Kind(models.TextChoices):
        REFACTOR = "refactor"
        DEPENDENCY_UPDATE = "dependency_update", "Dependency update"
        SECURITY_AUDIT = "security_audit", "Security audit"
        CLEANUP = "cleanup"
        SCALING = "scaling"

    class Status(models.TextChoices):
        OPEN = "open"
        DONE = "done"
        CANCELLED = "cancelled"

    class Priority(models.TextChoices):
        LOW = "low"
        NORMAL = "normal"
        HIGH = "high"
        URGENT = "urgent"

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
