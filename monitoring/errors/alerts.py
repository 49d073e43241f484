"""Alerts for new and regressed error groups, raised through the alerting lifecycle.

Like the health-check alerts, they belong to one built-in rule (source `error_group`) so they get
the rule's channels, escalation, silences and maintenance windows. The evaluator leaves that
rule alone: its alerts are opened here as events arrive and closed when the group is resolved
or ignored (lifecycle.py), or by a person on the alert page. One alert per group is open at most
(the alert fingerprint is the group's), so a storm of regressions is one alert per group."""

from datetime import datetime

from django.conf import settings
from django.urls import reverse

from monitoring.alerting.conditions import fingerprint as alert_fingerprint
from monitoring.alerting.lifecycle import Firing, alerts_fire, alerts_resolve
from monitoring.alerting.models import Alert, AlertRule, RuleSource, Severity
from monitoring.errors.models import ActivityKind, ErrorGroup, ErrorGroupActivity

RULE_NAME = "New or regressed error group"


def error_rule() -> AlertRule:
    """The built-in rule (created on first use; an admin may then add channels or disable it)."""
    rule = AlertRule.objects.filter(source=RuleSource.ERROR_GROUP).order_by("pk").first()
    if rule is None:
        rule, _ = AlertRule.objects.get_or_create(
            name=RULE_NAME,
            defaults={
                "source": RuleSource.ERROR_GROUP,
                "severity": Severity.WARNING,
                "builtin": True,
                "description": "Opened for services whose error settings ask for alerts on new or regressed groups.",
            },
        )
    return rule


def _labels(group: ErrorGroup, service) -> dict[str, str]:
    return {"service": service.slug, "error_group": str(group.pk)}


def groups_alert(*, service, groups: list[tuple[ErrorGroup, str]], now: datetime) -> None:
    """Open an alert per (group, "new" | "regressed") unless one is already open for the group."""
    rule = error_rule()
    if not rule.enabled:
        return
    firings = []
    for group, why in groups:
        labels = _labels(group, service)
        url = settings.PORTAL_BASE_URL + reverse("errors:detail", args=[group.pk])
        what = "New error" if why == "new" else "Regression"
        firings.append(
            Firing(
                rule=rule,
                fingerprint=alert_fingerprint(rule.pk, labels),
                labels=labels,
                value=None,
                summary=f"{what} in {service.name}: {group.title}"[:300],
                description=f"{group.culprit}\n\n{url}".strip(),
                service=service,
            )
        )
    results = alerts_fire(firings=firings, now=now)
    ErrorGroupActivity.objects.bulk_create(
        [
            ErrorGroupActivity(
                group=group, kind=ActivityKind.ALERTED, created_at=now, via="ingest", details={"alert": alert.pk}
            )
            for (group, _), (alert, created) in zip(groups, results, strict=True)
            if created
        ]
    )


def group_alerts_resolve(*, group: ErrorGroup, by, via: str, now: datetime) -> None:
    """Close the group's open alert (it was about this group; the group is dealt with)."""
    rule = AlertRule.objects.filter(source=RuleSource.ERROR_GROUP).values_list("pk", flat=True)
    fingerprints = [alert_fingerprint(pk, _labels(group, group.service)) for pk in rule]
    if not fingerprints:
        return
    open_alerts = list(Alert.objects.open().filter(fingerprint__in=fingerprints))
    if open_alerts:
        alerts_resolve(alerts=open_alerts, by=by, via=via, reason=f"error group #{group.pk} {group.status}", now=now)
