"""The demo service's alert rules and a week of alerts, told through the real lifecycle.

Every alert is opened, escalated, acknowledged, commented and resolved by the transition
functions (`monitoring.alerting.lifecycle`, `escalation_advance`) at the past moment it
happened (`now=`), so its timeline is made of real events. The rules match the demo metrics
(`portal.demo.traffic`): the evaluator, once workers run, finds the open alerts' conditions
still true (and keeps them open) and the resolved ones' false.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from monitoring.alerting.conditions import fingerprint, render_annotation
from monitoring.alerting.escalation import escalation_advance
from monitoring.alerting.lifecycle import alert_acknowledge, alert_comment, alert_fire, alert_resolve
from monitoring.alerting.models import (
    Alert,
    AlertRule,
    Channel,
    EscalationPolicy,
    EscalationStep,
    RuleSource,
    RuleState,
    Severity,
)
from monitoring.models import HealthCheck
from portal.demo.health import SHOP_API
from portal.demo.traffic import (
    CHECKOUT,
    DURATION,
    ORDERS_API,
    QUEUE_DEPTH,
    REQUESTS,
    SEARCH,
    WEBHOOKS,
    Scenario,
)
from portal.models import Service
from portal.roles import OPERATOR

MINUTE = timedelta(minutes=1)
POLICY = "Demo shop on-call"
HEALTH_RULE = "Critical health check unhealthy"  # built in (monitoring.alerting.defaults)
PEOPLE = {"dana": "Dana", "sam": "Sam"}  # on-call engineers in the timelines; they cannot log in


def _rule(name, metric, matchers, aggregation, window, threshold, for_minutes, severity, summary, annotation=""):
    # A route's latency over all its answers: the timer has one series per status class.
    group_by = ["service", "route", "method"] if metric == DURATION else []
    return {
        "group_by": group_by,
        "name": name,
        "metric": metric,
        "matchers": [{"label": k, "op": op, "value": v} for k, op, v in matchers],
        "aggregation": aggregation,
        "window": timedelta(minutes=window),
        "comparison": "gt",
        "threshold": threshold,
        "for_duration": timedelta(minutes=for_minutes),
        "severity": severity,
        "summary": summary,
        "annotation": annotation,
    }


CHECKOUT_SLOW, CHECKOUT_ERRORS = "Demo shop: checkout p95 above 1.5 s", "Demo shop: checkout errors"
ORDER_QUEUE, EMAIL_QUEUE = "Demo shop: order queue above 200", "Demo shop: email queue stuck"
WEBHOOKS_FAILING, SEARCH_SLOW = "Demo shop: payment webhooks failing", "Demo shop: search p95 above 0.8 s"
EXPORT_SLOW = "Demo shop: orders API p99 above 2 s"
RUNBOOK = "Runbook: https://wiki.example.com/runbooks/demo-shop#"
RULES = [
    _rule(CHECKOUT_SLOW, DURATION, [("route", "=", CHECKOUT)], "p95", 5, 1.5, 5, Severity.CRITICAL,
          "Checkout p95 at {value:.1f} s (above {threshold:g} s)", RUNBOOK + "slow-checkout"),
    _rule(CHECKOUT_ERRORS, REQUESTS, [("route", "=", CHECKOUT), ("status", "=~", "5..")], "rate", 5, 0.01, 2,
          Severity.CRITICAL, "Checkout failing: {value:.3f} errors/s (HTTP {status})", RUNBOOK + "checkout-errors"),
    _rule(ORDER_QUEUE, QUEUE_DEPTH, [("queue", "=", "orders")], "max", 5, 200, 5, Severity.WARNING,
          "Order queue at {value:.0f} jobs"),
    _rule(EMAIL_QUEUE, QUEUE_DEPTH, [("queue", "=", "emails")], "min", 10, 50, 10, Severity.WARNING,
          "Email queue stuck at {value:.0f} messages", RUNBOOK + "email-worker"),
    _rule(WEBHOOKS_FAILING, REQUESTS, [("route", "=", WEBHOOKS), ("status", "=~", "5..")], "rate", 10, 0.03, 5,
          Severity.CRITICAL, "Payment webhooks failing: {value:.2f}/s answered HTTP {status}",
          RUNBOOK + "payment-webhooks"),
    _rule(SEARCH_SLOW, DURATION, [("route", "=", SEARCH)], "p95", 10, 0.8, 10, Severity.WARNING,
          "Search p95 at {value:.1f} s"),
    _rule(EXPORT_SLOW, DURATION, [("route", "=", ORDERS_API)], "p99", 30, 2.0, 15, Severity.INFO,
          "Orders API p99 at {value:.1f} s"),
]  # fmt: skip


@dataclass
class Story:
    """One alert: which rule and series, when it fired, and what people did afterwards."""

    rule: str
    labels: dict
    fired: datetime
    value: float
    steps: list[tuple] = field(default_factory=list)  # (when, action, who, text, value)


def _stories(scenario: Scenario, now: datetime, check: HealthCheck | None) -> list[Story]:
    s, m = scenario, MINUTE
    checkout = {"route": CHECKOUT, "method": "POST"}
    stories = [
        Story(CHECKOUT_ERRORS, {**checkout, "status": "500"}, s.incident_start + 10 * m, 0.024, [
            (s.incident_start + 14 * m, "ack", "sam", "", None),
            (s.incident_start + 16 * m, "comment", "sam",
             "500s from the payment step. DB connection pool exhausted since the 2.14.0 deploy?", None),
            (s.incident_end + 6 * m, "resolve", "sam", "Rolled back to 2.13.2; errors are back to normal.", None),
            (s.incident_end + 2 * 60 * m, "comment", "dana",
             "Post-mortem: https://wiki.example.com/postmortems/checkout-2-14-0", None),
        ]),
        Story(CHECKOUT_SLOW, checkout, s.incident_start + 17 * m, 2.3, [
            (s.incident_start + 40 * m, "ack", "dana", "email", None),
            (s.incident_start + 42 * m, "comment", "dana", "Same cause as the checkout errors; sam is on it.", None),
            (s.incident_end + 3 * m, "resolve", None, "", 0.41),
        ]),
        Story(ORDER_QUEUE, {"queue": "orders"}, s.incident_start + 73 * m, 232.0, [
            (s.incident_end + 15 * m, "resolve", None, "", 187.0),
        ]),
        Story(EMAIL_QUEUE, {"queue": "emails"}, s.emails_stuck_since + 27 * m, 131.0),
        Story(WEBHOOKS_FAILING, {"route": WEBHOOKS, "method": "POST", "status": "502"},
              s.webhooks_failing_since + 8 * m, 0.13),
        Story(SEARCH_SLOW, {"route": SEARCH, "method": "GET"}, s.search_slow_since + 11 * m, 1.9, [
            (s.search_slow_since + 20 * m, "ack", "dana", "", None),
            (s.search_slow_since + 23 * m, "comment", "dana",
             "The catalogue import started a full reindex; search stays slow until it finishes (about 6 h).", None),
        ]),
        Story(EXPORT_SLOW, {"route": ORDERS_API, "method": "GET"}, s.export_since + 21 * m, 3.1, [
            (s.export_since + 21 * m + 130 * m, "ack", "sam", "", None),
            (s.export_since + 21 * m + 136 * m, "comment", "sam",
             "A partner polls /api/orders/?export=1 every minute (3 s each). Asked them to use the nightly file "
             "instead: OPS-231.",
             None),
        ]),
    ]  # fmt: skip
    if check is not None:
        labels = {"check": check.name, "check_id": str(check.pk)}
        stories.append(
            Story(HEALTH_RULE, labels, s.outage_start + m, 1.0, [(s.outage_end + m, "resolve", None, "", 0.0)])
        )
    return [story for story in stories if story.fired < now]


def _people() -> dict:
    User = get_user_model()
    operators = Group.objects.filter(name=OPERATOR).first()
    people = {}
    for username, first_name in PEOPLE.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username, first_name=first_name)  # no password: cannot log in
            if operators is not None:
                user.groups.add(operators)
        people[username] = user
    return people


def _policy() -> EscalationPolicy:
    policy, created = EscalationPolicy.objects.get_or_create(name=POLICY)
    if created:
        for order, (wait, channel) in enumerate([(0, "Slack"), (15, "Webhook")]):
            step = EscalationStep.objects.create(policy=policy, order=order, wait_minutes=wait)
            step.channels.set(Channel.objects.filter(name=channel))
    return policy


def _escalate_until(alert: Alert, moment: datetime) -> None:
    """Run the escalation steps that fell due before `moment`, at the time each was due."""
    alert.refresh_from_db(fields=["status", "next_escalation_at"])
    while alert.next_escalation_at is not None and alert.next_escalation_at <= moment:
        if not escalation_advance(alert_id=alert.pk, now=alert.next_escalation_at):
            break
        alert.refresh_from_db(fields=["status", "next_escalation_at"])


def _tell(story: Story, rule: AlertRule, service: Service, people: dict, now: datetime) -> Alert:
    labels = {**story.labels, "service": service.slug}  # the labels of the series the evaluator sees
    context = {"value": story.value, "threshold": rule.threshold, "rule": rule.name, "labels": labels}
    description = render_annotation(rule.annotation, **context)
    if rule.source == RuleSource.HEALTH_CHECK:
        description = f"{description}\n\nHTTP 503 from http://shop-api.internal/healthz".strip()
    alert, _ = alert_fire(
        rule=rule,
        fingerprint=fingerprint(rule.pk, labels),
        labels={**(rule.labels or {}), **labels},
        value=story.value,
        summary=render_annotation(rule.summary, **context),
        description=description,
        service=service,
        now=story.fired,
    )
    for moment, action, who, text, value in story.steps:
        if moment >= now:
            break
        _escalate_until(alert, moment)
        person = people.get(who)
        if action == "ack":
            alert_acknowledge(alert=alert.pk, by=person, via=text or "page", now=moment)
        elif action == "comment":
            alert_comment(alert=alert.pk, by=person, via="page", text=text, now=moment)
        else:
            alert_resolve(alert=alert.pk, by=person, via="page", reason=text, now=moment, value=value)
    _escalate_until(alert, now)
    alert.refresh_from_db()
    if alert.is_open:
        # What the evaluator remembers about a condition that holds: it keeps the alert open.
        RuleState.objects.update_or_create(
            rule=rule,
            fingerprint=alert.fingerprint,
            defaults={
                "labels": labels,
                "active_since": story.fired - rule.for_duration,
                "value": story.value,
                "changed_at": story.fired,
            },
        )
    return alert


def alerts_install(*, service: Service, now: datetime, scenario: Scenario) -> dict:
    """Rules, the on-call policy and a week of alerts; alerts only while the service has none."""
    policy = _policy()
    rules = {}
    for spec in RULES:
        rule, _ = AlertRule.objects.get_or_create(
            name=spec["name"], defaults={**spec, "service": service, "escalation_policy": policy}
        )
        rules[rule.name] = rule
    health_rule = AlertRule.objects.filter(name=HEALTH_RULE, source=RuleSource.HEALTH_CHECK).first()
    if health_rule is not None:
        rules[HEALTH_RULE] = health_rule
    if Alert.objects.filter(service=service).exists():
        return {"rules": len(RULES), "alerts": 0}
    people = _people()
    check = HealthCheck.objects.filter(service=service, name=SHOP_API).first()
    stories = sorted(_stories(scenario, now, check), key=lambda story: story.fired)
    alerts = [_tell(story, rules[story.rule], service, people, now) for story in stories if story.rule in rules]
    return {"rules": len(RULES), "alerts": len(alerts)}
