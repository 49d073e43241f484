"""Who is told next when nobody acknowledges."""

from django.conf import settings
from django.db import models


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    repeat = models.PositiveIntegerField(default=0, help_text="Run the whole sequence this many more times.")
    repeat_after_minutes = models.PositiveIntegerField(
        default=30, help_text="Wait after the last step before a repeat starts again at step 1."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(default=0)
    wait_minutes = models.PositiveIntegerField(
        default=0, help_text="Wait this long after the previous step (or the alert firing) before notifying."
    )
    channels = models.ManyToManyField("alerting.Channel", blank=True, related_name="escalation_steps")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="escalation_steps")

    class Meta:
        ordering = ["policy", "order", "id"]

    def __str__(self) -> str:
        return f"{self.policy} step {self.order} (+{self.wait_minutes} min)"
