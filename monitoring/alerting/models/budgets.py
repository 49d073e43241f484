"""Performance budgets: "p95 of /checkout/ stays under 800 ms", "under 1 % of requests fail",
"LCP p75 under 2.5 s". Each budget is evaluated as an ordinary alert rule it manages
(monitoring.alerting.budgets), so a breach is an alert with the usual lifecycle, channels and
escalation; there is no second evaluator."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from monitoring.alerting.models.rules import MAX_MIN_COUNT, MAX_WINDOW, MIN_WINDOW, AlertRule, Severity


class BudgetKind(models.TextChoices):
    P50 = "p50", "Latency p50 (ms)"
    P95 = "p95", "Latency p95 (ms)"
    P99 = "p99", "Latency p99 (ms)"
    ERROR_RATE = "error_rate", "Error rate (% of requests answered 5xx or raised)"
    TTFB = "TTFB", "Web vital TTFB p75 (ms)"
    FCP = "FCP", "Web vital FCP p75 (ms)"
    LCP = "LCP", "Web vital LCP p75 (ms)"
    INP = "INP", "Web vital INP p75 (ms)"
    CLS = "CLS", "Web vital CLS p75 (score)"


LATENCY = (BudgetKind.P50, BudgetKind.P95, BudgetKind.P99)
# The largest limit that means something per kind: an hour of latency, every request failing, the
# beacon's own maxima (monitoring.vitals.MAX_VALUE).
MAX_LIMIT = {"latency": 3_600_000.0, BudgetKind.ERROR_RATE: 100.0, BudgetKind.CLS: 100.0, "vital": 600_000.0}


def limit_maximum(kind: str) -> float:
    if kind in LATENCY:
        return MAX_LIMIT["latency"]
    return MAX_LIMIT.get(kind, MAX_LIMIT["vital"])


class PerformanceBudget(models.Model):
    service = models.ForeignKey("portal.Service", on_delete=models.CASCADE, related_name="budgets")
    route = models.CharField(
        max_length=200, blank=True, help_text="URL pattern, e.g. /orders/<int:pk>/; blank: all routes together."
    )
    kind = models.CharField("what", max_length=12, choices=BudgetKind.choices)
    limit = models.FloatField(
        validators=[MinValueValidator(0)],
        help_text="Milliseconds for latencies and timings, percent for the error rate, a score for CLS.",
    )
    window = models.DurationField(
        default=timedelta(minutes=15),
        validators=[
            MinValueValidator(MIN_WINDOW, message="The window must be at least one minute (data is per minute)."),
            MaxValueValidator(MAX_WINDOW, message="The window must be at most 24 hours."),
        ],
        help_text="Measured over this much recent data.",
    )
    min_requests = models.PositiveIntegerField(
        "minimum requests",
        default=0,
        validators=[MaxValueValidator(MAX_MIN_COUNT)],
        help_text="Not judged while the window holds fewer requests than this (for a web vital: fewer "
        "samples), so a quiet hour's one slow request is no breach. 0: every window is judged.",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    rule = models.OneToOneField(
        AlertRule, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="budget"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service__name", "route", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["service", "route", "kind"], name="alerting_budget_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.route or 'all routes'}: {self.get_kind_display()} ≤ {self.limit:g}"

    def clean(self):
        if self.kind and self.limit is not None and self.limit > limit_maximum(self.kind):
            raise ValidationError({"limit": f"At most {limit_maximum(self.kind):g} for {self.kind}."})
        if self.route and not self.route.startswith("/"):
            raise ValidationError({"route": "A URL pattern starting with /, or blank for all routes."})
