import time

import pytest
import redis
from django.conf import settings
from django_q.models import Success
from django_q.tasks import async_task, result

from tests.support import manage, manage_process, require, separate_database

pytestmark = pytest.mark.django_db


def test_a_task_runs_in_sync_mode():
    task_id = async_task("portal.tasks.ping", sync=True)
    assert result(task_id) == "pong"
    assert Success.objects.filter(id=task_id).exists()


def broker_available() -> tuple[bool, str]:
    url = settings.Q_CLUSTER.get("redis")
    if not url:
        return True, ""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return False, f"Redis at {url} does not answer ({exc})"
    return True, ""


def task_result(task_id: str, env: dict) -> str:
    probe = manage("shell", "-c", f"from django_q.tasks import result; print(result('{task_id}'))", env=env)
    lines = probe.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.mark.slow
def test_a_real_qcluster_runs_a_queued_task(tmp_path):
    ok, reason = broker_available()
    require("Redis", ok, reason)
    with separate_database(tmp_path) as env:
        queued = manage(
            "shell", "-c", "from django_q.tasks import async_task; print(async_task('portal.tasks.ping'))", env=env
        )
        assert queued.returncode == 0, queued.stderr
        task_id = queued.stdout.strip().splitlines()[-1]
        outcome = ""
        with manage_process("qcluster", env=env) as cluster:
            deadline = time.monotonic() + 60
            while outcome != "pong" and time.monotonic() < deadline and cluster.poll() is None:
                time.sleep(1)
                outcome = task_result(task_id, env)
        log = cluster.stdout.read()
        assert outcome == "pong", log
        assert cluster.returncode == 0, log  # stopped cleanly on SIGTERM
