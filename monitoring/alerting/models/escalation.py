"""Who is told next when nobody acknowledges."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# Bounds said once, as field validators (admin and API alike). Past them `now + wait` overflows a
# date (a wait of 2**40 minutes stopped the escalation sweep, and the suppression sweep behind it).
MAX_WAIT_MINUTES = 7 * 24 * 60  # a week: longer is no escalation
MAX_REPEAT = 100  # whole-sequence repeats
MAX_STEPS = 20  # steps per policy
MAX_STEP_ORDER = 1000


def at_most(limit: int, unit: str = "") -> list:
    return [MaxValueValidator(limit, message=f"Must be at most {limit:,}{' ' + unit if unit else ''}.")]


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    repeat = models.PositiveIntegerField(
        default=0, validators=at_most(MAX_REPEAT, "repeats"), help_text="Run the whole sequence this many more times."
    )
    repeat_after_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1, message="Must be at least 1 minute."), *at_most(MAX_WAIT_MINUTES, "minutes")],
        help_text="Wait after the last step before a repeat starts again at step 1.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(default=0, validators=at_most(MAX_STEP_ORDER))
    wait_minutes = models.PositiveIntegerField(
        default=0,
        validators=at_most(MAX_WAIT_MINUTES, "minutes (7 days)"),
        help_text="Wait this long after the previous step (or the alert firing) before notifying.",
    )
    channels = models.ManyToManyField("alerting.Channel", blank=True, related_name="escalation_steps")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="escalation_steps")

    class Meta:
        ordering = ["policy", "order", "id"]

    def __str__(self) -> str:
        return f"{self.policy} step {self.order} (+{self.wait_minutes} min)"
