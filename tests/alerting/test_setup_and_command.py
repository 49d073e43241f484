"""Defaults via portal_setup, the evaluate_rules command, the schedules, and the tasks."""

import io
from datetime import timedelta

from django.core.management import call_command
from django_q.models import Schedule

from monitoring.alerting import tasks
from monitoring.alerting.defaults import install
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertRule, Channel, Delivery
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory


def test_defaults_install_rules_and_disabled_channels_idempotently(db):
    out = io.StringIO()
    install(stdout=out, demo=False)
    names = set(AlertRule.objects.values_list("name", flat=True))
    assert {"Local host: CPU above 90%", "Local host: memory above 90%", "Local host: disk above 90%",
            "Critical health check unhealthy"} <= names  # fmt: skip
    cpu = AlertRule.objects.get(name="Local host: CPU above 90%")
    assert (cpu.metric, cpu.threshold, cpu.for_duration, cpu.builtin) == (
        "system_cpu_percent",
        90.0,
        timedelta(minutes=5),
        True,
    )
    assert cpu.matchers == [{"label": "cpu", "op": "=", "value": "total"}]
    assert not Channel.objects.filter(enabled=True).exists()
    assert Channel.objects.count() == 3
    AlertRule.objects.filter(pk=cpu.pk).update(threshold=95)  # an admin's edit survives
    install(stdout=io.StringIO(), demo=False)
    assert AlertRule.objects.count() == len(names) and Channel.objects.count() == 3
    assert AlertRule.objects.get(pk=cpu.pk).threshold == 95


def test_portal_setup_installs_schedules_and_defaults(db):
    call_command("portal_setup", stdout=io.StringIO())
    assert {"alerting.evaluate", "alerting.deliveries", "alerting.escalations"} <= set(
        Schedule.objects.values_list("name", flat=True)
    )
    assert AlertRule.objects.filter(builtin=True).count() == 4


def test_defaults_fire_on_a_hot_cpu(clock, sample, service):
    install(stdout=io.StringIO(), demo=False)
    for minute in range(12):
        sample(service, "system_cpu_percent", 97, T0 + timedelta(minutes=minute, seconds=5), cpu="total")
        sample(service, "system_cpu_percent", 10, T0 + timedelta(minutes=minute, seconds=5), cpu="0")

    for minute in range(5, 12):
        clock.move_to(T0 + timedelta(minutes=minute))
        rules_evaluate()
    alert = Alert.objects.get()
    assert alert.summary == "CPU at 97% on checkout (above 90% for 5 minutes)"
    assert alert.created_at == T0 + timedelta(minutes=10)


def test_evaluate_rules_command(clock, sample, service, httpserver):
    httpserver.expect_request("/cmd").respond_with_data("ok")
    rule = AlertRuleFactory()
    rule.channels.set([ChannelFactory(url=httpserver.url_for("/cmd"))])
    sample(service, "http_latency_ms", 500, T0 - timedelta(minutes=1))
    out = io.StringIO()
    call_command("evaluate_rules", "--send", stdout=out)
    text = out.getvalue()
    assert "1 fired" in text and "'sent': 1" in text
    assert Delivery.objects.get().status == "sent"


def test_tasks_are_safe_to_rerun(clock, sample, service, settings):
    AlertRuleFactory()
    sample(service, "http_latency_ms", 500, T0 - timedelta(minutes=1))
    assert "1 fired" in tasks.evaluate_rules()
    assert "0 fired" in tasks.evaluate_rules()
    assert tasks.escalations_sweep() == "0 escalated, 0 notified after suppression ended"
    assert tasks.deliveries_send([12345]) == {"skipped": 1}
