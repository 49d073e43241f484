import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django_q.models import Schedule

from monitoring import tasks
from monitoring.hosts import local_host_service, portal_service
from monitoring.models import CheckKind, HealthCheck, MetricSample, MinuteRollup
from monitoring.schedules import SCHEDULES
from monitoring.setup import monitoring_setup
from portal.schedules import schedules_sync
from tests.monitoring.conftest import T0
from tests.monitoring.factories import HealthCheckFactory

pytestmark = pytest.mark.django_db


def test_schedules_install_idempotently():
    assert {s.func for s in SCHEDULES} == {
        "monitoring.tasks.rollup_minutes",
        "monitoring.tasks.collect_system",
        "monitoring.tasks.health_sweep",
        "monitoring.tasks.prune",
    }
    assert set(schedules_sync(SCHEDULES).values()) == {"created"}
    assert set(schedules_sync(SCHEDULES).values()) == {"unchanged"}
    assert Schedule.objects.filter(name__startswith="monitoring.").count() == 4


def test_setup_hook_creates_services_and_default_checks_once():
    out = io.StringIO()
    monitoring_setup(stdout=out, demo=False)
    monitoring_setup(stdout=out, demo=False)
    assert HealthCheck.objects.filter(kind=CheckKind.DATABASE, critical=True, service=portal_service()).count() == 1
    assert HealthCheck.objects.filter(kind=CheckKind.SYSTEM, service=local_host_service()).count() == 1
    assert "unchanged" in out.getvalue()


def test_demo_setup_adds_a_heartbeat_and_host_metrics():
    out = io.StringIO()
    monitoring_setup(stdout=out, demo=True)
    monitoring_setup(stdout=out, demo=True)
    assert HealthCheck.objects.filter(kind=CheckKind.HEARTBEAT, name="Demo nightly job").count() == 1
    assert MetricSample.objects.filter(service=local_host_service(), name="system_memory_percent").exists()


def test_portal_setup_runs_the_monitoring_hook():
    out = io.StringIO()
    call_command("portal_setup", stdout=out)
    assert "monitoring: host service" in out.getvalue()
    assert "schedule monitoring.rollup: created" in out.getvalue()


def test_health_check_task_skips_deleted_and_disabled_checks():
    check = HealthCheckFactory()
    assert tasks.health_check_run(check.pk) == "healthy"
    check.enabled = False
    check.save()
    assert tasks.health_check_run(check.pk) is None
    assert tasks.health_check_run(999_999) is None


def test_collect_and_sweep_tasks_run(settings, monkeypatch):
    settings.METRICS_COLLECT_WINDOW_SECONDS = 0
    assert tasks.collect_system()["failed"] == {}
    assert MetricSample.objects.filter(name="system_memory_percent").exists()
    monkeypatch.setattr("monitoring.healthchecks.runner.async_task", lambda *a, **k: None)
    HealthCheckFactory()
    assert tasks.health_sweep() == {"queued": 1, "evaluated": 0}


def test_rollup_task_rolls_every_closed_minute_then_has_nothing_left(settings, put, service):
    """Samples in five minutes, ten minutes ago: the window runs from the first sample's minute to
    two minutes ago (METRICS_ROLLUP_DELAY_SECONDS), one rollup row per minute that had samples."""
    settings.METRICS_ROLLUP_DELAY_SECONDS = 120
    for i in range(5):
        put(service, "queue_depth", 10 + i, T0 - timedelta(minutes=10 - i, seconds=-5))
    with time_machine.travel(T0, tick=False):
        assert tasks.rollup_minutes() == {"minutes": 8, "rows": 5}
        assert tasks.rollup_minutes() == {"minutes": 0, "rows": 0}
    assert sorted(MinuteRollup.objects.values_list("max", flat=True)) == [10, 11, 12, 13, 14]


def test_prune_task_deletes_only_what_is_past_its_retention(settings, put, service):
    settings.METRICS_RAW_RETENTION_DAYS = 7
    put(service, "queue_depth", 1, T0 - timedelta(days=8))
    put(service, "queue_depth", 2, T0 - timedelta(days=6))
    with time_machine.travel(T0, tick=False):
        tasks.rollup_minutes()
        done = tasks.prune()
    assert set(done) == {"raw", "minute", "hour", "results", "pings", "ingest_keys"}
    assert done["raw"] == 1
    assert list(MetricSample.objects.values_list("value", flat=True)) == [2.0]


def test_monitoring_run_command(settings, monkeypatch):
    settings.METRICS_COLLECT_WINDOW_SECONDS = 0
    monkeypatch.setattr("monitoring.healthchecks.runner.async_task", lambda *a, **k: None)
    out = io.StringIO()
    with time_machine.travel(T0, tick=False):
        call_command("monitoring_run", "collect", "rollup", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["collect", "rollup"]
    collected = MetricSample.objects.filter(service=local_host_service()).count()
    assert collected > 0 and f"'samples': {collected}" in lines[0]
    # The collected samples are this minute's: not closed yet, so nothing is rolled up.
    assert lines[1] == "rollup: {'minutes': 0, 'rows': 0}"
    call_command("monitoring_run", stdout=out)
    assert "prune:" in out.getvalue() and "sweep:" in out.getvalue()


def test_monitoring_run_refuses_unknown_jobs():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown job"):
        call_command("monitoring_run", "reboot")
