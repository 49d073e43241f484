"""The whole path in real processes: `evaluate_rules` fires an alert and queues its delivery
after commit; a real qcluster worker picks the task up and POSTs the signed webhook."""

import time

import pytest
import redis
from django.conf import settings

from tests.support import manage, manage_process, require, separate_database

SETUP = """
from datetime import timedelta
from django.utils import timezone
from monitoring.alerting.models import AlertRule, Channel
from monitoring.labels import labels_canonical, labels_hash
from monitoring.models import MetricSample
from portal.models import Service
service = Service.objects.create(name="Checkout", slug="checkout")
digest = labels_hash(labels_canonical({}))
MetricSample.objects.create(service=service, name="latency_ms", labels={}, labels_hash=digest, value=500,
                            time=timezone.now() - timedelta(seconds=20))
channel = Channel.objects.create(name="hook", kind="webhook", url="{url}", secret="k")
AlertRule.objects.create(name="slow checkout", metric="latency_ms", threshold=100).channels.set([channel])
"""


def broker_problem() -> str:
    url = settings.Q_CLUSTER.get("redis")
    if not url:
        return ""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer ({exc})"
    return ""


@pytest.mark.slow
def test_a_fired_alert_is_delivered_by_a_real_worker(tmp_path, httpserver):
    problem = broker_problem()
    require("Redis", not problem, problem)
    httpserver.expect_request("/e2e").respond_with_data("ok")
    with separate_database(tmp_path) as env:
        setup = manage("shell", "-c", SETUP.replace("{url}", httpserver.url_for("/e2e")), env=env)
        assert setup.returncode == 0, setup.stderr
        evaluated = manage("evaluate_rules", env=env)
        assert evaluated.returncode == 0, evaluated.stderr
        assert "1 fired" in evaluated.stdout
        received = []
        with manage_process("qcluster", env=env) as cluster:
            deadline = time.monotonic() + 60
            while not received and time.monotonic() < deadline and cluster.poll() is None:
                time.sleep(0.5)
                received = [r for r, _ in httpserver.log if r.path == "/e2e"]
        log = cluster.stdout.read()
        assert len(received) == 1, log
        assert received[0].get_json()["alert"]["summary"].startswith("slow checkout")
        status = manage(
            "shell", "-c", "from monitoring.alerting.models import Delivery; print(Delivery.objects.get().status)",
            env=env,
        )  # fmt: skip
        assert status.stdout.strip().splitlines()[-1] == "sent"
