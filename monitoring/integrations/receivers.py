"""Alertmanager and Grafana webhooks turned into portal alerts.

Each receiver owns one managed alert rule (source `external`), so received alerts go through the
same lifecycle as the portal's own: `alerts_fire` opens them (one open alert per fingerprint, the
partial unique constraint is the dedup), notifies the rule's channels once and starts escalation;
people acknowledge, comment and resolve them on the alert page; `status: resolved` in a payload
resolves them through `alerts_resolve`. The evaluator leaves these rules alone.

Alertmanager re-sends a firing group every `repeat_interval`: the open alert is updated (texts,
labels, severity), never duplicated and never notified again. A payload costs a fixed number of
queries whatever its number of alerts.
"""

import hashlib
import json
import math
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from monitoring.alerting.conditions import fingerprint as alert_fingerprint
from monitoring.alerting.lifecycle import Firing, alerts_fire, alerts_resolve
from monitoring.alerting.models import Alert, AlertRule, RuleSource
from monitoring.alerting.rules import rule_delete
from monitoring.integrations.models.receivers import TOKEN_PREFIX_LEN, Receiver, ReceiverKind
from portal.lib.bulk import chunks, full_batches
from portal.models import Service, hash_key

# Documented limits (docs/integrations.md). Alertmanager's `max_alerts` and Grafana's grouping
# keep payloads under them; a payload over one is refused whole, naming the field.
MAX_BODY_BYTES = 1024 * 1024
MAX_ALERTS = 1000  # per payload
MAX_LABELS = 64  # per alert, and the same for annotations
MAX_NAME = 200  # characters of a label or annotation name
MAX_LABEL_VALUE = 1024
MAX_ANNOTATION_VALUE = 10_000
MAX_URL = 2000
MAX_VALUES = 64  # Grafana's `values` (one per query/expression)
SHOWN_URLS = ("generatorURL", "dashboardURL", "panelURL", "silenceURL", "imageURL")
STATUSES = ("firing", "resolved")
VERSIONS = {ReceiverKind.ALERTMANAGER: "4", ReceiverKind.GRAFANA: "1"}


class PayloadInvalid(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Received:
    """One alert of a payload, checked."""

    status: str
    key: str  # the sender's fingerprint (or a hash of the labels when it sent none)
    labels: dict[str, str]
    annotations: dict[str, str]
    urls: dict[str, str]
    value: float | None
    values: dict[str, float | None]  # Grafana's evaluated query/expression values, shown as they came
    value_string: str  # older Grafana versions send the values as one string instead
    starts_at: str


def _strings(value, field: str, *, limit: int, required: bool) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise PayloadInvalid(field, "must be an object of strings.")
    if len(value) > MAX_LABELS:
        raise PayloadInvalid(field, f"at most {MAX_LABELS} entries (got {len(value)}).")
    for name, text in value.items():
        if not name or len(name) > MAX_NAME:
            raise PayloadInvalid(field, f"names are 1 to {MAX_NAME} characters.")
        if not isinstance(text, str):
            raise PayloadInvalid(f"{field}.{name}", "must be a string.")
        if len(text) > limit:
            raise PayloadInvalid(f"{field}.{name}", f"at most {limit} characters.")
    return value


def _optional_str(alert: dict, name: str, field: str, limit: int) -> str:
    value = alert.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise PayloadInvalid(f"{field}.{name}", f"must be a string of at most {limit} characters.")
    return value


def _values(values, field: str) -> dict[str, float | None]:
    """Grafana's evaluated values (`{"B": 93.2, "C": 1}`), checked."""
    if values is None:
        return {}
    if not isinstance(values, dict) or len(values) > MAX_VALUES:
        raise PayloadInvalid(field, f"must be an object of at most {MAX_VALUES} numbers.")
    for name, number in values.items():
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number)
        ):
            raise PayloadInvalid(f"{field}.{name}", "must be a finite number or null.")
    return values


def payload_parse(body, *, kind: str) -> list[Received]:
    """The alerts of a webhook body, or PayloadInvalid naming the first bad field."""
    if not isinstance(body, dict):
        raise PayloadInvalid("body", "must be a JSON object (the webhook payload).")
    version = body.get("version")
    if version is not None and version != VERSIONS[kind]:
        raise PayloadInvalid("version", f"expected {VERSIONS[kind]!r} (got {version!r}).")
    if body.get("status") not in (None, *STATUSES):
        raise PayloadInvalid("status", "must be 'firing' or 'resolved'.")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadInvalid("alerts", "required: a list of alerts.")
    if len(alerts) > MAX_ALERTS:
        raise PayloadInvalid("alerts", f"at most {MAX_ALERTS} alerts per payload (got {len(alerts)}); set max_alerts.")
    return [_alert_parse(alert, f"alerts[{i}]") for i, alert in enumerate(alerts)]


def _alert_parse(alert, field: str) -> Received:
    if not isinstance(alert, dict):
        raise PayloadInvalid(field, "must be an object.")
    status = alert.get("status")
    if status not in STATUSES:
        raise PayloadInvalid(f"{field}.status", "must be 'firing' or 'resolved'.")
    labels = _strings(alert.get("labels"), f"{field}.labels", limit=MAX_LABEL_VALUE, required=True)
    if not labels:
        raise PayloadInvalid(f"{field}.labels", "must not be empty (they identify the alert).")
    annotations = _strings(alert.get("annotations"), f"{field}.annotations", limit=MAX_ANNOTATION_VALUE, required=False)
    key = _optional_str(alert, "fingerprint", field, 64)
    if not key:  # the sender's own identity of the alert is its label set
        key = hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]
    urls = {name: _optional_str(alert, name, field, MAX_URL) for name in SHOWN_URLS}
    # One value is the alert's value; with several (query, reduce, threshold) none is "the" one.
    values = _values(alert.get("values"), f"{field}.values")
    numbers = list(values.values())
    return Received(
        status=status,
        key=key,
        labels=labels,
        annotations=annotations,
        urls={name: url for name, url in urls.items() if url},
        value=float(numbers[0]) if len(numbers) == 1 and numbers[0] is not None else None,
        values=values,
        value_string=_optional_str(alert, "valueString", field, MAX_ANNOTATION_VALUE),
        starts_at=_optional_str(alert, "startsAt", field, 64),
    )


def _summary(alert: Received) -> str:
    text = alert.annotations.get("summary") or alert.annotations.get("title")
    if text:
        return text[:300]
    name = alert.labels.get("alertname", "Alert")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")
    return f"{name} ({shown})"[:300] if shown else name[:300]


def _description(alert: Received) -> str:
    """The description annotation first, then the other annotations and the sender's links."""
    notes = dict(alert.annotations)
    parts = [notes.pop("description", "") or notes.pop("message", "")]
    notes.pop("summary", None)
    parts.append("\n".join(f"{name}: {text}" for name, text in sorted(notes.items())))
    parts.append("\n".join(f"{name}: {url}" for name, url in alert.urls.items()))
    if alert.values:
        parts.append(
            "values: "
            + ", ".join(
                f"{name}={number:.6g}" if number is not None else f"{name}=null"
                for name, number in alert.values.items()
            )
        )
    elif alert.value_string:
        parts.append(f"values: {alert.value_string}")
    if alert.starts_at:
        parts.append(f"startsAt: {alert.starts_at}")
    return "\n\n".join(part for part in parts if part)


def receiver_rule(receiver: Receiver) -> AlertRule:
    """The receiver's managed rule, created on first use (an admin then adds channels and an
    escalation policy to it, or disables it to drop the receiver's alerts)."""
    if receiver.rule_id:
        return receiver.rule
    with transaction.atomic():
        receiver = Receiver.objects.select_for_update().get(pk=receiver.pk)
        if receiver.rule_id is None:
            name = f"{receiver.get_kind_display()}: {receiver.name}"[:190]
            if AlertRule.objects.filter(name=name).exclude(source=RuleSource.EXTERNAL).exists():
                name += f" #{receiver.pk}"  # a rule of another kind has the name: never adopt it
            rule, _ = AlertRule.objects.get_or_create(
                name=name,
                source=RuleSource.EXTERNAL,
                defaults={
                    "service": receiver.service,
                    "severity": receiver.default_severity,
                    "builtin": True,
                    "description": f"Alerts received by the {receiver.kind} receiver {receiver.name!r}.",
                },
            )
            receiver.rule = rule
            receiver.save(update_fields=["rule"])
    return receiver.rule


def receiver_for_service(*, service: Service, kind: str) -> Receiver:
    """A service key posting without a receiver token: the service's receiver of that kind
    (the first by name), created on first use."""
    receiver = Receiver.objects.filter(service=service, kind=kind).select_related("rule", "service").first()
    if receiver is None:
        receiver, _ = Receiver.objects.get_or_create(
            name=f"{service.slug}-{kind}"[:100], defaults={"service": service, "kind": kind}
        )
    return receiver


def receiver_token_issue(*, receiver: Receiver) -> str:
    """A new token for the receiver (the previous one stops working); shown once, kept hashed."""
    while True:
        prefix = secrets.token_hex(TOKEN_PREFIX_LEN // 2)
        if not Receiver.objects.filter(token_prefix=prefix).exists():
            break
    raw = f"rt_{prefix}_{secrets.token_urlsafe(32)}"
    receiver.token_prefix, receiver.token_hashed = prefix, hash_key(raw)
    receiver.save(update_fields=["token_prefix", "token_hashed"])
    return raw


def receiver_token_revoke(*, receiver: Receiver) -> None:
    """The receiver stops taking its token; its service's keys still post to it."""
    receiver.token_prefix, receiver.token_hashed = None, ""
    receiver.save(update_fields=["token_prefix", "token_hashed"])


def receiver_saved(*, receiver: Receiver) -> AlertRule:
    """After a receiver is created or edited (admin and API): its managed rule exists, so its
    channels can be set before the first alert arrives, and lists under the receiver's service."""
    rule = receiver.rule = receiver_rule(receiver)  # receiver_rule sets it on a fresh copy
    if rule.service_id != receiver.service_id:
        rule.service = receiver.service
        rule.save(update_fields=["service", "updated_at"])
    return rule


def receiver_delete(*, receiver: Receiver, by, via: str) -> None:
    """Its alerts are resolved with its rule (nothing would ever resolve them otherwise)."""
    with transaction.atomic():
        if receiver.rule_id:
            rule_delete(rule=receiver.rule, by=by, via=via, reason=f"receiver {receiver.name!r} deleted")
        receiver.delete()


def receiver_token_find(raw: str) -> Receiver | None:
    parts = raw.split("_")
    if len(parts) < 3 or parts[0] != "rt" or len(parts[1]) != TOKEN_PREFIX_LEN:
        return None
    receiver = Receiver.objects.select_related("service", "rule").filter(token_prefix=parts[1]).first()
    return receiver if receiver is not None and receiver.token_matches(raw) else None


@dataclass(frozen=True)
class ReceiveResult:
    fired: int = 0  # new portal alerts
    updated: int = 0  # re-sent, already open
    resolved: int = 0
    ignored: int = 0  # the managed rule is disabled, or resolved alerts the portal had not open

    def as_dict(self) -> dict:
        return {"fired": self.fired, "updated": self.updated, "resolved": self.resolved, "ignored": self.ignored}


def alerts_receive(*, receiver: Receiver, alerts: list[Received], now: datetime | None = None) -> ReceiveResult:
    now = now or timezone.now()
    rule = receiver_rule(receiver)
    Receiver.objects.filter(pk=receiver.pk).update(last_received_at=now)
    if not rule.enabled:
        return ReceiveResult(ignored=len(alerts))
    latest: dict[str, Received] = {}
    for alert in alerts:  # the same alert twice in one payload: the later entry wins
        latest[alert_fingerprint(rule.pk, {"fingerprint": alert.key})] = alert
    firing = {fp: a for fp, a in latest.items() if a.status == "firing"}
    fired, updated = _fire(rule, receiver, firing, now=now)
    gone = [fp for fp, a in latest.items() if a.status == "resolved"]
    resolved = _resolve(rule, receiver, gone, now=now)
    return ReceiveResult(
        fired=fired, updated=updated, resolved=resolved, ignored=len(latest) - fired - updated - resolved
    )


def _fire(rule: AlertRule, receiver: Receiver, firing: dict[str, Received], *, now: datetime) -> tuple[int, int]:
    firings = [
        Firing(
            rule=rule,
            fingerprint=fp,
            labels=alert.labels,
            value=alert.value,
            summary=_summary(alert),
            description=_description(alert),
            service=receiver.service,
            severity=receiver.severity_for(alert.labels),
        )
        for fp, alert in firing.items()
    ]
    if not firings:
        return 0, 0
    results = alerts_fire(firings=firings, now=now)
    changed = []
    for firing, (alert, created) in zip(firings, results, strict=True):
        if created:
            continue
        # A re-send: bring the open alert up to date (annotations and labels may have changed).
        fresh = {
            "labels": firing.labels,
            "summary": firing.summary[:300],
            "description": firing.description,
            "severity": firing.severity,
            "value": firing.value,
        }
        if any(getattr(alert, name) != value for name, value in fresh.items()):
            for name, value in fresh.items():
                setattr(alert, name, value)
            changed.append(alert)
    if changed:
        with full_batches():
            Alert.objects.bulk_update(changed, ["labels", "summary", "description", "severity", "value"])
    created = sum(1 for _, was_created in results if was_created)
    return created, len(results) - created


def _resolve(rule: AlertRule, receiver: Receiver, fingerprints: list[str], *, now: datetime) -> int:
    if not fingerprints:
        return 0
    open_alerts = []
    for chunk in chunks(fingerprints):  # MAX_ALERTS bounds them: one or two queries
        open_alerts += Alert.objects.open().filter(rule=rule, fingerprint__in=chunk)
    if not open_alerts:
        return 0
    done = alerts_resolve(
        alerts=open_alerts, by=None, via=receiver.kind, reason=f"resolved in {receiver.get_kind_display()}", now=now
    )
    return len(done)
