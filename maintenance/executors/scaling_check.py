"""Scaling check: advice (scale out / up / in / down, or nothing) from the last N minutes of the
environment's service figures — CPU, memory, disk, load and request latency from monitoring —
with the figures and thresholds it used (maintenance/scaling.py decides).

It changes nothing itself. With a webhook channel configured, apply() POSTs the advice signed
exactly like alert webhooks (X-Portal-Signature over the timestamp and body, see
monitoring/alerting/transports/webhook.py), so an autoscaler or a chat bot can act on it.
"""

import json
import time
from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from maintenance.executors.base import FAILED, SUCCEEDED, Executor, Outcome, Plan, RunContext, register
from maintenance.scaling import NOTHING, Figures, Thresholds, recommend
from monitoring.alerting.models import Channel, ChannelKind
from monitoring.query import WindowAggregate, window_aggregates
from monitoring.requests import REQUEST_DURATION

MAX_WINDOW_MINUTES = 24 * 60


def _percent(**kwargs):
    return serializers.FloatField(min_value=0, max_value=100, **kwargs)


class ScalingConfig(serializers.Serializer):
    window_minutes = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW_MINUTES, default=15)
    cpu_high = _percent(default=80)
    cpu_low = _percent(default=20)
    memory_high = _percent(default=85)
    memory_low = _percent(default=30)
    disk_high = _percent(default=90)
    load_per_core_high = serializers.FloatField(min_value=0.1, max_value=100, default=1.5)
    cores = serializers.IntegerField(min_value=1, max_value=1024, default=1, help_text="Cores of one instance.")
    p95_high_ms = serializers.FloatField(min_value=1, max_value=600_000, required=False, allow_null=True, default=None)
    min_samples = serializers.IntegerField(min_value=1, max_value=10_000, default=3)
    webhook_channel = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="A webhook channel to POST the advice to (signed)."
    )

    def validate_webhook_channel(self, value):
        if value is not None and not Channel.objects.filter(pk=value, kind=ChannelKind.WEBHOOK).exists():
            raise serializers.ValidationError("No webhook channel with this id.")
        return value

    def validate(self, attrs):
        for low, high in (("cpu_low", "cpu_high"), ("memory_low", "memory_high")):
            if attrs[low] >= attrs[high]:
                raise serializers.ValidationError({low: f"Must be below {high}."})
        return attrs


def _average(found) -> tuple[float | None, int]:
    count = sum(a.count for a in found)
    total = sum(a.sum for a in found)
    return (total / count if count else None), count


def service_figures(service_id: int, minutes: int, now=None) -> Figures:
    until = now or timezone.now()
    since = until - timedelta(minutes=minutes)

    def series(name, **labels):
        found = window_aggregates(name=name, since=since, until=until, service_id=service_id, labels=labels)
        return list(found.values())

    cpu, samples = _average(series("system_cpu_percent", cpu="total"))
    memory, _ = _average(series("system_memory_percent"))
    load1, _ = _average(series("system_load1"))
    # The fullest mount decides: a full disk is full whatever the others hold.
    disks = [a.sum / a.count for a in series("system_disk_percent") if a.count]
    requests = series(REQUEST_DURATION)
    p95 = None
    if requests:
        merged = WindowAggregate.merge([part for a in requests for part in a.parts], window_seconds=minutes * 60)
        seconds = merged.value("p95")
        p95 = None if seconds is None else seconds * 1000
    return Figures(
        cpu=cpu, memory=memory, disk=max(disks) if disks else None, load1=load1, p95_ms=p95,
        requests=sum(a.count for a in requests), samples=samples,
    )  # fmt: skip


def _limits(config: dict) -> Thresholds:
    names = ("cpu_high", "cpu_low", "memory_high", "memory_low", "disk_high", "load_per_core_high", "p95_high_ms")
    return Thresholds(**{name: config[name] for name in (*names, "cores") if name in config})


def _post(channel: Channel, advice: dict, ctx: RunContext) -> str:
    from monitoring.alerting.transports.http import post_json
    from monitoring.alerting.transports.webhook import (
        EVENT_HEADER,
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        signature_for,
    )

    body = json.dumps({"event": "maintenance.scaling", "environment": ctx.target.name, **advice}, sort_keys=True)
    timestamp = str(int(time.time()))
    headers = {
        SIGNATURE_HEADER: signature_for(channel.secret, timestamp, body.encode()),
        TIMESTAMP_HEADER: timestamp,
        EVENT_HEADER: "maintenance.scaling",
    }
    return post_json(channel.url, body=body.encode(), headers=headers, timeout=ctx.remaining(10))


@register
class ScalingCheckExecutor(Executor):
    kind = "scaling_check"
    label = "Scaling check"
    Config = ScalingConfig

    def plan(self, ctx: RunContext) -> Plan:
        if ctx.target.service_id is None:
            return Plan(summary="The environment has no service: there are no figures to judge.")
        figures = service_figures(ctx.target.service_id, ctx.config.get("window_minutes", 15))
        advice = recommend(figures, _limits(ctx.config), min_samples=ctx.config.get("min_samples", 3)).as_dict()
        ctx.log(f"figures over {ctx.config.get('window_minutes', 15)} min: {json.dumps(advice['figures'])}")
        ctx.log(f"advice: {advice['action']} — {advice['reason']}")
        words = "no change" if advice["action"] == NOTHING else advice["action"].replace("_", " ")
        return Plan(summary=f"{words}: {advice['reason']}", items=[advice])

    def apply(self, ctx: RunContext, plan: Plan) -> Outcome:
        changes = {"recommendations": plan.items}
        if not plan.items:
            return Outcome(status=SUCCEEDED, summary=plan.summary, changes=changes)
        channel_id = ctx.config.get("webhook_channel")
        if channel_id is None:
            return Outcome(status=SUCCEEDED, summary=plan.summary, changes=changes)
        channel = Channel.objects.filter(pk=channel_id, kind=ChannelKind.WEBHOOK).first()
        if channel is None:
            return Outcome(status=FAILED, summary=f"webhook channel {channel_id} no longer exists", changes=changes)
        try:
            answer = _post(channel, plan.items[0], ctx)
        except Exception as exc:  # a receiver being down fails the run, never the worker
            ctx.log(f"webhook failed: {exc}")
            return Outcome(status=FAILED, summary=f"{plan.summary} (webhook failed: {exc})", changes=changes)
        ctx.log(f"webhook {channel.name}: {answer}")
        changes["webhook"] = {"channel": channel.name, "answer": answer}
        return Outcome(status=SUCCEEDED, summary=plan.summary, changes=changes)
