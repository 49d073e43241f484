"""The health gate of a change: a service's error rate and p95 latency in the span after the
change against the same span before it, and the alert a regression raises.

Figures come from the request series every instrumented service writes (monitoring.requests:
`http_request_duration_seconds` with a `status_class` label; the middleware, the Sentry
transaction ingest and the metrics API all write it). The windows are exact to the second, not
minute-aligned like monitoring.query's rollup reads: a gate of a few minutes would otherwise
count requests from before the change as after it. So they are read from raw samples, which
the rollups keep for the raw retention period (hours), far longer than a watch window (at most
an hour, `MAX_WATCH_SECONDS`). Counts are one grouped query; the p95 streams the durations
into one DDSketch (1 % relative error), reading at most `MAX_P95_SAMPLES` of them per window.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Count, ExpressionWrapper, F, TextField

from monitoring.alerting.conditions import fingerprint as alert_fingerprint
from monitoring.alerting.lifecycle import alert_fire
from monitoring.alerting.models import AlertRule, RuleSource, Severity
from monitoring.models import MetricSample
from monitoring.requests import REQUEST_DURATION
from monitoring.sketches import sketch_new, sketch_quantile
from portal.models import Service

MAX_WATCH_SECONDS = 3600
MAX_P95_SAMPLES = 500_000
RULE_NAME = "Maintenance: update regressed a service"


@dataclass
class WindowFigures:
    requests: int = 0
    errors: int = 0  # 5xx answers
    p95: float | None = None  # seconds
    p95_partial: bool = False  # more samples than MAX_P95_SAMPLES: p95 of the first ones

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def service_window(*, service_id: int, since: datetime, until: datetime) -> WindowFigures:
    """Requests, 5xx answers and p95 duration of the service's requests in [since, until)."""
    rows = MetricSample.objects.filter(name=REQUEST_DURATION, time__gte=since, time__lt=until, service_id=service_id)
    figures = WindowFigures()
    raw_labels = ExpressionWrapper(F("labels"), output_field=TextField())
    counts = dict(rows.order_by().values("labels_hash").annotate(n=Count("id")).values_list("labels_hash", "n"))
    if not counts:
        return figures
    labels = dict(rows.filter(labels_hash__in=list(counts)).values_list("labels_hash", raw_labels).distinct())
    for digest, count in counts.items():
        figures.requests += count
        if json.loads(labels.get(digest) or "{}").get("status_class") == "5xx":
            figures.errors += count
    sketch = sketch_new()
    for taken, value in enumerate(rows.values_list("value", flat=True).iterator(chunk_size=5000), start=1):
        sketch.add(value)
        if taken >= MAX_P95_SAMPLES:
            figures.p95_partial = True
            break
    figures.p95 = sketch_quantile(sketch, 0.95)
    return figures


@dataclass
class GateVerdict:
    passed: bool
    judged: bool  # False: too few requests to compare (the gate then lets the change stay)
    reason: str
    before: dict
    after: dict


def gate_judge(
    before: WindowFigures,
    after: WindowFigures,
    *,
    max_error_rate_increase: float,
    max_p95_ratio: float,
    min_requests: int,
) -> GateVerdict:
    """Regression: the error rate rose by more than `max_error_rate_increase` (a share: 0.02 is
    two percentage points), or p95 grew past `max_p95_ratio` times what it was."""
    figures = {"before": asdict(before), "after": asdict(after)}
    if before.requests < min_requests or after.requests < min_requests:
        reason = (
            f"not judged: {before.requests} requests before and {after.requests} after, "
            f"fewer than the {min_requests} needed on each side"
        )
        return GateVerdict(True, False, reason, **figures)
    problems = []
    rise = (after.error_rate or 0.0) - (before.error_rate or 0.0)
    if rise > max_error_rate_increase:
        problems.append(
            f"error rate {100 * (before.error_rate or 0):.2f}% → {100 * (after.error_rate or 0):.2f}% "
            f"(limit +{100 * max_error_rate_increase:.2f} points)"
        )
    if before.p95 and after.p95 and after.p95 > before.p95 * max_p95_ratio:
        problems.append(f"p95 {1000 * before.p95:.1f} ms → {1000 * after.p95:.1f} ms (limit {max_p95_ratio:g} times)")
    if problems:
        return GateVerdict(False, True, "regression: " + "; ".join(problems), **figures)
    return GateVerdict(True, True, "no regression", **figures)


def gate_rule() -> AlertRule:
    """The built-in rule of these alerts (created on first use; an admin adds its channels). It is
    an `external` rule: alerts opened by code, which the evaluator leaves alone."""
    rule = AlertRule.objects.filter(name=RULE_NAME, source=RuleSource.EXTERNAL).first()
    if rule is None:
        rule, _ = AlertRule.objects.get_or_create(
            name=RULE_NAME,
            defaults={
                "source": RuleSource.EXTERNAL,
                "severity": Severity.WARNING,
                "builtin": True,
                "description": "Opened by a dependency update whose health gate saw a regression (it was rolled back).",
            },
        )
    return rule


def gate_alert(*, service_id: int, environment: str, summary: str, description: str, now: datetime | None = None):
    """Open (or find open) the regression alert of this service and environment."""
    rule = gate_rule()
    if not rule.enabled:
        return None
    service = Service.objects.get(pk=service_id)
    labels = {"service": service.slug, "environment": environment[:100]}
    alert, _ = alert_fire(
        rule=rule,
        fingerprint=alert_fingerprint(rule.pk, labels),
        labels=labels,
        value=None,
        summary=summary[:300],
        description=description,
        service=service,
        now=now,
    )
    return alert
