from datetime import UTC, datetime

import pytest
import time_machine

from monitoring.alerting.conditions import fingerprint
from monitoring.alerting.lifecycle import alert_fire
from monitoring.alerting.models import Alert
from monitoring.labels import labels_canonical, labels_hash
from monitoring.models import MetricSample
from tests.alerting.factories import AlertRuleFactory, ChannelFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    """A frozen clock moved explicitly: clock.move_to(T0 + timedelta(minutes=5))."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sample(db):
    """sample(service, name, value, time, **labels): one raw metric sample."""

    def write(service, name, value, time, **labels):
        labels = {k: str(v) for k, v in labels.items()}
        return MetricSample.objects.create(
            service=service,
            name=name,
            labels=labels,
            labels_hash=labels_hash(labels_canonical(labels)),
            value=float(value),
            time=time,
        )

    return write


@pytest.fixture
def rule(db):
    return AlertRuleFactory(name="High latency")


@pytest.fixture
def webhook_channel(db):
    return ChannelFactory(name="ops webhook")


@pytest.fixture
def make_alert(db, service):
    """make_alert(rule=None, status="firing", **labels) -> an alert opened through alert_fire."""
    counter = iter(range(1, 10_000))

    def make(rule=None, status="firing", now=None, on=None, **labels):
        rule = rule or AlertRuleFactory()
        labels = labels or {"service": service.slug, "n": str(next(counter))}
        alert, _ = alert_fire(
            rule=rule,
            fingerprint=fingerprint(rule.pk, labels),
            labels=labels,
            value=123.0,
            summary=f"{rule.name} is high",
            service=on or service,
            now=now,
        )
        if status != "firing":
            fields = {"status": status}
            if status == "acknowledged":
                fields["acknowledged_at"] = alert.created_at
            if status == "resolved":
                fields["resolved_at"] = alert.created_at
            Alert.objects.filter(pk=alert.pk).update(**fields)
            alert.refresh_from_db()
        return alert

    return make
