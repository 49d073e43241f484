"""Alert receivers: where an Alertmanager or a Grafana contact point sends its webhooks."""

import hmac

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from monitoring.alerting.models import Severity
from portal.models import hash_key

TOKEN_PREFIX_LEN = 8


class ReceiverKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"


# What the `severity` label usually says, in Prometheus' and Grafana's own conventions, mapped to
# the portal's three severities. A receiver's `severity_map` adds to it or overrides it.
DEFAULT_SEVERITY_MAP = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "high": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "medium": Severity.WARNING,
    "info": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
}


def validate_severity_map(value):
    allowed = set(Severity.values)
    if not isinstance(value, dict) or not all(isinstance(k, str) and v in allowed for k, v in value.items()):
        raise ValidationError(
            f'An object of label value → one of {", ".join(sorted(allowed))}, e.g. {{"P1": "critical"}}'
        )


class Receiver(models.Model):
    """One webhook source. Its alerts belong to one managed alert rule (source `external`) whose
    channels, escalation policy, silences and maintenance windows apply to them like to any rule."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=ReceiverKind.choices)
    service = models.ForeignKey("portal.Service", on_delete=models.CASCADE, related_name="alert_receivers")
    enabled = models.BooleanField(default=True, help_text="A disabled receiver refuses payloads (403).")
    # The token is shown once when issued; only its hash is kept (like service keys).
    token_prefix = models.CharField(max_length=TOKEN_PREFIX_LEN, unique=True, null=True, blank=True, editable=False)
    token_hashed = models.CharField(max_length=64, blank=True, editable=False)
    severity_label = models.CharField(
        max_length=100, default="severity", blank=True, help_text="The alert label that says how severe it is."
    )
    severity_map = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_severity_map],
        help_text="Label value → portal severity, added to the usual names (critical, warning, info, page, …), "
        'e.g. {"P1": "critical"}.',
    )
    default_severity = models.CharField(
        max_length=10,
        choices=Severity.choices,
        default=Severity.WARNING,
        help_text="When the label is absent or unknown.",
    )
    rule = models.OneToOneField(
        "alerting.AlertRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="receiver", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_received_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def token_matches(self, raw: str) -> bool:
        return bool(self.token_hashed) and hmac.compare_digest(self.token_hashed, hash_key(raw))

    def severity_for(self, labels: dict[str, str]) -> str:
        value = labels.get(self.severity_label, "") if self.severity_label else ""
        if value in (self.severity_map or {}):
            return self.severity_map[value]
        return DEFAULT_SEVERITY_MAP.get(value.lower(), self.default_severity)
