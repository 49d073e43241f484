"""Worker clusters that die or run side by side, in real `manage.py qcluster` processes on a
database of their own: a cluster SIGKILLed in the middle of sending notifications and started
again finishes every job and sends each notification once; two clusters sharing PostgreSQL and
Redis run every schedule once per period."""

import itertools
import json
import signal
import threading
import time
from datetime import datetime, timedelta

import pytest
import redis
from django.conf import settings
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.faults.conftest import cluster, signal_group
from tests.support import free_port, manage, on_postgres, require, separate_database

pytestmark = pytest.mark.slow

WORKERS = 2


def broker_problem() -> str:
    url = settings.Q_CLUSTER.get("redis")
    if not url:
        return ""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer ({exc})"
    return ""


def shell(code: str, env: dict) -> str:
    """Run Python in the subprocesses' database; returns the last line it printed."""
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def wait_for(condition, *, timeout: float, every: float = 0.5, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


FIRE = """
from django.db import transaction
from monitoring.alerting.conditions import fingerprint
from monitoring.alerting.lifecycle import alert_fire
from monitoring.alerting.models import AlertRule, Channel
channel = Channel.objects.create(name="hook", kind="webhook", url="{url}", secret="k")
rule = AlertRule.objects.create(name="busy", metric="m", threshold=1)
rule.channels.set([channel])
for n in range({count}):
    labels = {{"n": str(n)}}
    # One transaction per alert: each commit queues its own deliveries_send task.
    with transaction.atomic():
        alert_fire(
            rule=rule, fingerprint=fingerprint(rule.pk, labels), labels=labels, value=2.0, summary=f"alert {{n}}"
        )
print("ok")
"""

# What a restart ten minutes later finds: the dead worker's claims are stale, and the ORM
# broker hands its unfinished tasks out again (their lock has expired). Then the per-minute
# deliveries sweep runs (queued here instead of waiting for the schedule).
LATER = """
from datetime import timedelta
from django.db.models import F
from django.utils import timezone
from django_q.models import OrmQ
from django_q.tasks import async_task
from monitoring.alerting.models import Delivery
from monitoring.alerting.notify import STALE_CLAIM
Delivery.objects.filter(status="sending").update(claimed_at=F("claimed_at") - STALE_CLAIM - timedelta(minutes=1))
OrmQ.objects.update(lock=timezone.now() - timedelta(seconds=1))
async_task("monitoring.alerting.tasks.deliveries_sweep")
print("ok")
"""

STATE = """
import json
from monitoring.alerting.models import AlertEvent, Delivery
print(json.dumps({
    "deliveries": list(Delivery.objects.order_by("alert_id").values_list("alert_id", "status")),
    "notified": sorted(AlertEvent.objects.filter(kind="notified").values_list("alert_id", flat=True)),
}))
"""


class SlowReceiver:
    """Takes a second per notification; notes when each arrived and when it was answered."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrived = []  # (alert id, monotonic time)
        self.answered = []
        self.delivery_ids = []  # (alert id, payload's delivery_id, X-Portal-Delivery header)

    def __call__(self, request):
        payload = request.get_json()
        alert_id = payload["alert"]["id"]
        with self.lock:
            self.arrived.append((alert_id, time.monotonic()))
            self.delivery_ids.append((alert_id, payload["delivery_id"], request.headers.get("X-Portal-Delivery")))
        time.sleep(1.0)
        with self.lock:
            self.answered.append((alert_id, time.monotonic()))
        return Response("ok")


def test_a_cluster_killed_mid_task_and_restarted_sends_every_notification_once(tmp_path):
    problem = broker_problem()
    require("Redis", not problem, problem)
    count = 8
    server = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    receiver = SlowReceiver()
    server.expect_request("/hook", method="POST").respond_with_handler(receiver)
    server.start()
    try:
        with separate_database(tmp_path) as env:
            env |= {"PORTAL_WORKERS": str(WORKERS), "ALERTING_HTTP_TIMEOUT_SECONDS": "10"}
            assert shell(FIRE.format(url=server.url_for("/hook"), count=count), env) == "ok"
            log = tmp_path / "qcluster.log"
            with cluster(env, log_path=log) as first:
                wait_for(lambda: len(receiver.arrived) >= 3, timeout=60, what="the first notifications")
                signal_group(first, signal.SIGKILL)
                first.wait()
                killed_at = time.monotonic()
            time.sleep(1.2)  # requests in flight at the kill reach the receiver's answer
            in_flight = {a for a, t in receiver.arrived if t < killed_at} - {
                a for a, t in receiver.answered if t < killed_at
            }
            assert len(in_flight) <= WORKERS
            assert len(receiver.arrived) < count  # it was killed with work left

            assert shell(LATER, env) == "ok"
            with cluster(env, log_path=log):

                def all_sent():
                    state = json.loads(shell(STATE, env))
                    return state if all(s == "sent" for _, s in state["deliveries"]) else None

                state = wait_for(all_sent, timeout=120, every=2, what="every delivery to be sent")
            alert_ids = [a for a, _ in state["deliveries"]]
    finally:
        server.stop()

    assert len(alert_ids) == count
    assert state["notified"] == alert_ids  # one "notified" event each: the portal sent each once
    arrivals = [a for a, _ in receiver.arrived]
    # Every alert reached the receiver; twice only when the kill cut its request off mid-answer
    # (a sender that dies waiting for the answer cannot know whether it arrived).
    assert sorted(set(arrivals)) == alert_ids
    repeated = {a for a in arrivals if arrivals.count(a) > 1}
    assert repeated <= in_flight, (repeated, in_flight, log.read_text()[-3000:])
    # A repeat carries the same delivery id, so a receiver that drops seen ids acts once per alert.
    assert all(header == str(delivery) for _, delivery, header in receiver.delivery_ids)
    seen = {}
    for alert_id, delivery, _ in receiver.delivery_ids:
        seen.setdefault(delivery, set()).add(alert_id)
    assert len(seen) == count and all(len(alerts) == 1 for alerts in seen.values())
    print(f"killed with {len(in_flight)} notification(s) in flight; sent again after the restart: {len(repeated)}")


SCHEDULES = """
from django.utils import timezone
from django_q.models import Schedule
from portal.models import Service
Service.objects.create(name="tally", slug="tally")
for n in range({count}):
    Schedule.objects.create(
        name=f"tally-{{n}}", func="tests.faults.probes.tally", args=repr(f"tally-{{n}}"),
        schedule_type=Schedule.MINUTES, minutes=1, next_run=timezone.now(), intended_date_kwarg="intended",
    )
print("ok")
"""

RUNS = """
import json
from portal.models import Deployment
runs = {}
for name, intended in Deployment.objects.filter(service__slug="tally").values_list("version", "description"):
    runs.setdefault(name, []).append(intended)
print(json.dumps(runs))
"""


@pytest.mark.postgres
@pytest.mark.redis
def test_two_clusters_on_postgres_and_redis_run_each_schedule_once_per_period(tmp_path):
    if not (on_postgres() and settings.Q_CLUSTER.get("redis")):
        # Not configured (the SQLite and PostgreSQL-only suites): CI runs it in the PostgreSQL + Redis suite.
        pytest.skip("needs DATABASE_URL=postgres://... and REDIS_URL (several workers share those)")
    problem = broker_problem()
    require("Redis", not problem, problem)  # configured but not answering: a failure in CI
    count = 4
    with separate_database(tmp_path) as env:
        env |= {"PORTAL_WORKERS": "1"}
        assert shell(SCHEDULES.format(count=count), env) == "ok"
        redis.Redis.from_url(settings.Q_CLUSTER["redis"]).delete(settings.Q_CLUSTER["name"])  # stale tasks
        started = time.monotonic()
        with cluster(env, log_path=tmp_path / "a.log"), cluster(env, log_path=tmp_path / "b.log"):
            # Each scheduler looks every 30 s, so in 75 s both have looked twice and two periods
            # (the one due at the start, the next a minute later) have come due.
            time.sleep(75)
        elapsed = time.monotonic() - started
        runs = json.loads(shell(RUNS, env))

    assert sorted(runs) == [f"tally-{n}" for n in range(count)], runs
    for name, periods in runs.items():
        # Each run is for the period django-q2 meant it for (`intended`): none twice, none skipped.
        starts = sorted(datetime.fromisoformat(p) for p in periods)
        assert len(starts) == len(set(starts)), (name, periods)
        assert 2 <= len(starts) <= elapsed // 60 + 1, (name, periods)
        assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(starts)), (name, periods)
