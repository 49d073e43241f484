"""`portal_setup` with and without `--demo`, each from an empty database."""

from io import StringIO

import pytest
from django.core.management import call_command
from django_q.models import Schedule

import portal.demo.codehealth
from codehealth.models import CodeRepository
from monitoring.alerting.models import Alert, AlertRule
from monitoring.models import HealthCheck, HealthCheckResult, HourRollup
from portal.demo.install import LIVE_SCHEDULE
from portal.demo.service import DEMO_SLUG
from portal.demo.tasks import live_samples
from portal.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_codehealth(settings, monkeypatch):
    settings.BASE_DIR = settings.BASE_DIR / "codehealth"
    monkeypatch.setattr(portal.demo.codehealth, "HISTORY_COMMITS", 2)


def run_setup(*args) -> str:
    out = StringIO()
    call_command("portal_setup", *args, stdout=out)
    return out.getvalue()


def test_without_demo_nothing_of_the_demo_is_added(settings):
    settings.HEALTH_CUSTOM_CHECKS = dict(settings.DEMO_CUSTOM_CHECKS)
    run_setup()
    assert not Service.objects.filter(slug=DEMO_SLUG).exists()
    assert not Schedule.objects.filter(name=LIVE_SCHEDULE.name).exists()
    assert not AlertRule.objects.filter(name__startswith="Demo shop").exists()
    assert not (Alert.objects.exists() or HealthCheckResult.objects.exists() or HourRollup.objects.exists())
    assert not CodeRepository.objects.exists()


def test_where_the_demo_checks_are_not_registered_the_demo_goes_without_them(settings, small_codehealth):
    settings.HEALTH_CUSTOM_CHECKS = {}
    output = run_setup("--demo")
    assert "demo health checks: 2 checks" in output  # the two heartbeats
    assert not HealthCheck.objects.filter(kind="custom").exists()
    assert not Alert.objects.filter(rule__name="Critical health check unhealthy").exists()
    assert Alert.objects.filter(service__slug=DEMO_SLUG).count() >= 7


def test_without_a_git_repository_the_code_history_is_skipped(settings, tmp_path, monkeypatch):
    settings.BASE_DIR = tmp_path  # e.g. installed from an archive
    output = run_setup("--demo")
    assert "demo code history skipped" in output
    assert Service.objects.filter(slug=DEMO_SLUG).exists()


def test_live_samples_without_the_demo_do_nothing():
    assert live_samples() == {"skipped": "no demo service"}
