"""Alerts for benchmark regressions (opt-in per import: `bench import --alert`, `?alert=true`).

Raised through the alerting lifecycle under one built-in rule, so the rule's channels,
escalation, silences and maintenance windows apply. The rule uses the `external` source: like a
receiver's rule, its alerts are opened and resolved from outside (here, by arriving runs) and
the evaluator leaves them alone. One alert per benchmark and branch is open at most; a later run
of that benchmark on that branch that is no regression resolves it."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from monitoring.alerting.conditions import fingerprint as alert_fingerprint
from monitoring.alerting.lifecycle import Firing, alerts_fire, alerts_resolve
from monitoring.alerting.models import Alert, AlertRule, RuleSource, Severity

RULE_NAME = "Benchmark regression"


def benchmark_rule() -> AlertRule:
    """Created on first use; an admin may then add channels, or disable it."""
    rule, _ = AlertRule.objects.get_or_create(
        name=RULE_NAME,
        source=RuleSource.EXTERNAL,
        defaults={
            "severity": Severity.WARNING,
            "builtin": True,
            "description": "Opened when an imported benchmark run is slower than its baseline "
            "(bench import --alert, or POST /api/v1/benchmarks/runs/?alert=true).",
        },
    )
    return rule


def runs_alert(*, runs, now=None) -> list[Alert]:
    """Open an alert per regressed run; resolve the open alert of runs that are not regressions."""
    now = now or timezone.now()
    rule = benchmark_rule()
    if not rule.enabled:
        return []
    firings, calm = [], []
    for run in runs:
        labels = {"benchmark": str(run.benchmark)[:200], "branch": run.branch or "-"}
        fingerprint = alert_fingerprint(rule.pk, labels)
        if run.verdict != run.Verdict.REGRESSION:
            calm.append(fingerprint)
            continue
        url = settings.PORTAL_BASE_URL + reverse("reporting:benchmark", args=[run.benchmark_id])
        firings.append(
            Firing(
                rule=rule,
                fingerprint=fingerprint,
                labels=labels,
                value=run.change_percent,
                summary=f"Benchmark {run.benchmark} regressed ({run.change_percent:+.1f}%) on {labels['branch']}"[:300],
                description=f"Commit {run.commit or '?'} on {run.machine or '?'}.\n\n{url}",
            )
        )
    if calm:
        open_alerts = list(Alert.objects.open().filter(rule=rule, fingerprint__in=calm))
        if open_alerts:
            alerts_resolve(alerts=open_alerts, by=None, via="benchmarks", reason="no longer a regression", now=now)
    return [alert for alert, _ in alerts_fire(firings=firings, now=now)] if firings else []
