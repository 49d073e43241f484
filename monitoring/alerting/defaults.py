"""Built-in rules and (disabled) channels, installed by `manage.py portal_setup`.

Idempotent: rows are found by name and created only when missing, so an admin's later edits
(thresholds, enabling a channel) are never overwritten.
"""

from datetime import timedelta

from django.contrib.auth.models import Group

from monitoring.alerting.models import AlertRule, Channel, ChannelKind, RuleSource, Severity

EMAIL_CHANNEL = "Email the admins"

CHANNELS = [
    {"name": EMAIL_CHANNEL, "kind": ChannelKind.EMAIL},
    {"name": "Slack", "kind": ChannelKind.SLACK},
    {"name": "Webhook", "kind": ChannelKind.WEBHOOK},
]

RULES = [
    {
        "name": "Local host: CPU above 90%",
        "metric": "system_cpu_percent",
        "matchers": [{"label": "cpu", "op": "=", "value": "total"}],
        "aggregation": "avg",
        "window": timedelta(minutes=5),
        "comparison": "gt",
        "threshold": 90.0,
        "for_duration": timedelta(minutes=5),
        "severity": Severity.WARNING,
        "summary": "CPU at {value:.0f}% on {service} (above {threshold:g}% for 5 minutes)",
    },
    {
        "name": "Local host: memory above 90%",
        "metric": "system_memory_percent",
        "aggregation": "avg",
        "window": timedelta(minutes=5),
        "comparison": "gt",
        "threshold": 90.0,
        "for_duration": timedelta(minutes=5),
        "severity": Severity.WARNING,
        "summary": "Memory at {value:.0f}% on {service} (above {threshold:g}% for 5 minutes)",
    },
    {
        "name": "Local host: disk above 90%",
        "metric": "system_disk_percent",
        "aggregation": "last",
        "window": timedelta(minutes=5),
        "comparison": "gt",
        "threshold": 90.0,
        "for_duration": timedelta(0),
        "severity": Severity.CRITICAL,
        "summary": "Disk {mount} is {value:.0f}% full on {service}",
    },
    {
        "name": "Critical health check unhealthy",
        "source": RuleSource.HEALTH_CHECK,
        "severity": Severity.CRITICAL,
        "summary": "Health check {check} is unhealthy",
    },
]


def install(*, stdout, demo: bool = False) -> None:
    channels = {}
    for spec in CHANNELS:
        channel, created = Channel.objects.get_or_create(name=spec["name"], defaults={**spec, "enabled": False})
        channels[channel.name] = channel
        if created:
            stdout.write(f"alerting: channel '{channel.name}' created (disabled: configure and enable it)")
            if channel.kind == ChannelKind.EMAIL:
                channel.groups.set(Group.objects.filter(name="admin"))
    for spec in RULES:
        rule, created = AlertRule.objects.get_or_create(name=spec["name"], defaults={**spec, "builtin": True})
        if created:
            rule.channels.set([channels[EMAIL_CHANNEL]])
            stdout.write(f"alerting: rule '{rule.name}' created")
