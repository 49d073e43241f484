"""Scaling check: advice from synthetic metric series of a service, with the figures and the
thresholds it used; the signed webhook; bounds of its config."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from maintenance.executors.base import RunContext, Target, config_validate
from maintenance.executors.scaling_check import ScalingCheckExecutor, service_figures
from maintenance.scaling import Figures, Thresholds, recommend
from monitoring.alerting.models import Channel, ChannelKind
from monitoring.alerting.transports.webhook import signature_verify
from monitoring.ingest import metrics_ingest

LIMITS = Thresholds(p95_high_ms=500, cores=2)


@pytest.mark.parametrize(
    ("figures", "action", "also", "words"),
    [
        (Figures(cpu=92, memory=50, disk=40, load1=1, samples=10), "scale_out", [], "CPU 92.0% ≥ 80%"),
        (Figures(cpu=50, memory=50, disk=40, load1=4, samples=10), "scale_out", [], "load per core 2.00 ≥ 1.5"),
        (Figures(cpu=50, memory=91, disk=40, load1=1, samples=10), "scale_up", [], "memory 91.0% ≥ 85%"),
        (Figures(cpu=50, memory=50, disk=95, load1=1, samples=10), "scale_up", [], "disk 95.0% ≥ 90%"),
        (Figures(cpu=95, memory=90, disk=40, load1=1, samples=10), "scale_out", ["scale_up"], "memory 90.0%"),
        (Figures(cpu=5, memory=50, disk=40, load1=0.1, samples=10), "scale_in", [], "CPU 5.0% ≤ 20%"),
        (Figures(cpu=5, memory=10, disk=40, load1=0.1, samples=10), "scale_in", ["scale_down"], "memory 10.0% ≤ 30%"),
        (Figures(cpu=50, memory=10, disk=40, load1=1, samples=10), "scale_down", [], "memory 10.0% ≤ 30%"),
        (Figures(cpu=50, memory=50, disk=40, load1=1, samples=10), "none", [], "within its thresholds"),
        # Slow but idle: not a capacity problem.
        (Figures(cpu=10, memory=50, disk=40, load1=0.1, p95_ms=900, samples=10), "none", [], "would not help"),
        # Slow and busy: latency is one more reason to scale out.
        (Figures(cpu=85, memory=50, disk=40, load1=1, p95_ms=900, samples=10), "scale_out", [], "p95 900 ms ≥ 500"),
        # Missing data never leads to a smaller deployment.
        (Figures(cpu=5, memory=None, disk=None, load1=0.1, samples=10), "none", [], "unknown"),
        (Figures(cpu=99, memory=99, samples=1), "none", [], "not enough data"),
    ],
)
def test_recommendations(figures, action, also, words):
    advice = recommend(figures, LIMITS)
    assert advice.action == action
    assert advice.also == also
    assert words in "; ".join(advice.reasons)
    assert advice.thresholds["cpu_high"] == 80 and advice.figures["cpu"] == figures.cpu


def gauges(service, name, values, *, labels=None, minutes_ago=5):
    now = timezone.now()
    items = [
        {"name": name, "type": "gauge", "value": v, "labels": labels or {},
         "time": (now - timedelta(minutes=minutes_ago, seconds=i * 10)).isoformat()}
        for i, v in enumerate(values)
    ]  # fmt: skip
    metrics_ingest(service=service, items=items)


@pytest.fixture
def busy_service(service, other_service):
    gauges(service, "system_cpu_percent", [90, 94, 92], labels={"cpu": "total"})
    gauges(service, "system_cpu_percent", [5, 5, 5], labels={"cpu": "0"})  # per core: not the total
    gauges(service, "system_memory_percent", [40, 42, 44])
    gauges(service, "system_disk_percent", [50, 50, 50], labels={"mount": "/"})
    gauges(service, "system_disk_percent", [96, 96, 96], labels={"mount": "/data"})
    gauges(service, "system_load1", [1.0, 1.2, 1.4])
    gauges(service, "system_cpu_percent", [90, 90, 90], labels={"cpu": "total"}, minutes_ago=120)  # outside the window
    gauges(other_service, "system_cpu_percent", [1, 1, 1], labels={"cpu": "total"})  # another service
    return service


def test_figures_come_from_the_services_series_in_the_window(busy_service):
    figures = service_figures(busy_service.pk, 15)
    assert figures.cpu == pytest.approx(92)
    assert figures.memory == pytest.approx(42)
    assert figures.disk == pytest.approx(96)  # the fullest mount
    assert figures.load1 == pytest.approx(1.2)
    assert figures.samples == 3
    assert figures.p95_ms is None and figures.requests == 0


def context(service, **config):
    target = Target(name="shop", python="/usr/bin/python3", project_dir="/srv/shop", package_manager="pip",
                    service_id=service.pk if service else None)  # fmt: skip
    lines = []
    ctx = RunContext(target=target, config=config_validate("scaling_check", config), log=lines.append,
                     deadline=time.monotonic() + 30)  # fmt: skip
    return ctx, lines


def test_plan_and_apply_without_a_webhook(busy_service):
    ctx, lines = context(busy_service)
    executor = ScalingCheckExecutor()
    plan = executor.plan(ctx)
    assert plan.summary.startswith("scale out: CPU 92.0% ≥ 80%")
    assert plan.items[0]["also"] == ["scale_up"]  # the /data mount is 96 % full
    outcome = executor.apply(ctx, plan)
    assert outcome.status == "succeeded"
    assert outcome.changes["recommendations"][0]["action"] == "scale_out"
    assert any(line.startswith("advice: scale_out") for line in lines)


def test_no_service_no_advice(db):
    ctx, _ = context(None)
    plan = ScalingCheckExecutor().plan(ctx)
    assert plan.items == [] and "no service" in plan.summary


def test_the_advice_is_posted_signed_like_alert_webhooks(busy_service, httpserver):
    channel = Channel.objects.create(name="autoscaler", kind=ChannelKind.WEBHOOK, url=httpserver.url_for("/scale"),
                                     secret="s3cret")  # fmt: skip
    httpserver.expect_oneshot_request("/scale", method="POST").respond_with_data("ok")
    ctx, _ = context(busy_service, webhook_channel=channel.pk)
    executor = ScalingCheckExecutor()
    outcome = executor.apply(ctx, executor.plan(ctx))
    assert outcome.status == "succeeded", outcome.summary
    ((request, _response),) = httpserver.log
    body = request.get_data()
    assert signature_verify("s3cret", timestamp=request.headers["X-Portal-Timestamp"], body=body,
                            signature=request.headers["X-Portal-Signature"])  # fmt: skip
    payload = json.loads(body)
    assert payload["event"] == "maintenance.scaling" and payload["action"] == "scale_out"
    assert payload["figures"]["cpu"] == pytest.approx(92)


def test_a_webhook_that_fails_fails_the_run_not_the_worker(busy_service, httpserver):
    channel = Channel.objects.create(name="down", kind=ChannelKind.WEBHOOK, url=httpserver.url_for("/scale"),
                                     secret="s3cret")  # fmt: skip
    httpserver.expect_oneshot_request("/scale").respond_with_data("no", status=503)
    ctx, _ = context(busy_service, webhook_channel=channel.pk)
    executor = ScalingCheckExecutor()
    outcome = executor.apply(ctx, executor.plan(ctx))
    assert outcome.status == "failed" and "503" in outcome.summary


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"window_minutes": 0}, "window_minutes"),
        ({"window_minutes": 10**6}, "window_minutes"),
        ({"cpu_high": 101}, "cpu_high"),
        ({"cpu_low": 90, "cpu_high": 80}, "cpu_low"),
        ({"cores": 0}, "cores"),
        ({"webhook_channel": 999999}, "webhook_channel"),
    ],
)
def test_config_is_validated_naming_the_field(db, config, field):
    with pytest.raises(serializers.ValidationError) as caught:
        config_validate("scaling_check", config)
    assert field in caught.value.detail
