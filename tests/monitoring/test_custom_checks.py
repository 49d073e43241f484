"""Custom health checks come from the deployment's registry, never from an import path in a request.

Issue #9: `{"path": "subprocess.run", "kwargs": {"args": ["sh", "-c", "id > /tmp/x"]}}` ran a shell
command as the portal's user when an operator pressed "run".
"""

import importlib
import json

import pytest
from django.apps import apps
from django.urls import reverse

from monitoring.healthchecks import custom
from monitoring.healthchecks.runner import health_check_run
from monitoring.models import CheckKind, HealthCheck
from tests.monitoring.factories import HealthCheckFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-checks/"


@pytest.fixture
def imported(monkeypatch):
    """Every dotted path the registry imports: the attack must never reach import_string."""
    seen = []
    real = custom.import_string

    def spy(path):
        seen.append(path)
        return real(path)

    monkeypatch.setattr(custom, "import_string", spy)
    return seen


@pytest.fixture
def payload(tmp_path):
    marker = tmp_path / "pwned"
    config = {"path": "subprocess.run", "kwargs": {"args": ["sh", "-c", f"id > {marker}"]}}
    return config, marker


def test_api_refuses_an_import_path_and_runs_nothing(api_client, custom_checks, payload, imported):
    config, marker = payload
    response = api_client("admin").post(URL, {"name": "evil", "kind": "custom", "config": config}, format="json")
    assert response.status_code == 400
    errors = response.json()["config"]
    assert "import paths are refused" in errors["path"][0] and "kwargs" in errors
    assert errors["name"] == ["is required; available: answers, hangs, raises"]
    assert not HealthCheck.objects.exists()
    assert not marker.exists() and imported == []


def test_api_refuses_an_import_path_given_as_the_name(api_client, custom_checks, imported):
    body = {"name": "evil", "kind": "custom", "config": {"name": "subprocess.run", "params": {"args": ["id"]}}}
    response = api_client("admin").post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["config"] == {
        "name": ["is not a registered custom check; available: answers, hangs, raises"]
    }
    assert imported == []


def test_api_refuses_the_payload_on_an_existing_check_too(api_client, custom_checks, payload):
    config, marker = payload
    check = HealthCheckFactory(kind=CheckKind.CUSTOM, config={"name": "answers"})
    admin = api_client("admin")
    assert admin.patch(f"{URL}{check.pk}/", {"config": config}, format="json").status_code == 400
    check.refresh_from_db()
    assert check.config == {"name": "answers"}
    assert admin.post(f"{URL}{check.pk}/run/").json()["status"] == "healthy"
    assert not marker.exists()


def test_admin_form_refuses_the_payload(page_client, custom_checks, payload, imported):
    config, marker = payload
    form = {
        "name": "evil",
        "kind": "custom",
        "config": json.dumps(config),
        "interval_seconds": 60,
        "timeout_seconds": 5,
        "grace_seconds": 300,
        "cron": "",
        "results-TOTAL_FORMS": 0,
        "results-INITIAL_FORMS": 0,
    }
    response = page_client("admin").post(reverse("admin:monitoring_healthcheck_add"), form)
    assert response.status_code == 200
    assert b"path: is not accepted" in response.content
    assert not HealthCheck.objects.exists()
    assert not marker.exists() and imported == []


def test_a_stored_import_path_is_never_run(api_client, custom_checks, payload, imported):
    """A row written around validation (an old row, a shell): "run now" reports it, runs nothing."""
    config, marker = payload
    check = HealthCheckFactory(kind=CheckKind.CUSTOM, config={"name": "answers"})
    HealthCheck.objects.filter(pk=check.pk).update(config=config)
    response = api_client("operator").post(f"{URL}{check.pk}/run/")
    assert response.status_code == 200
    assert response.json()["status"] == "unhealthy"
    assert "import paths are refused" in response.json()["message"]
    assert not marker.exists() and imported == []


def test_create_by_name_with_typed_params_and_errors_naming_the_param(api_client, custom_checks):
    admin = api_client("admin")
    body = {"name": "slow", "kind": "custom", "config": {"name": "hangs", "params": {"seconds": 60}}}
    response = admin.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["config"] == {"params": {"seconds": ["must be between 0 and 10"]}}
    body["config"]["params"] = {"seconds": 0.01}
    created = admin.post(URL, body, format="json")
    assert created.status_code == 201, created.json()
    assert admin.post(f"{URL}{created.json()['id']}/run/").json()["status"] == "healthy"


def test_with_nothing_registered_the_error_says_so(api_client, settings):
    settings.HEALTH_CUSTOM_CHECKS = {}
    body = {"name": "x", "kind": "custom", "config": {"name": "answers"}}
    response = api_client("admin").post(URL, body, format="json")
    assert response.status_code == 400
    assert "HEALTH_CUSTOM_CHECKS setting is empty" in response.json()["config"]["name"][0]


def _migrate():
    migration = importlib.import_module("monitoring.migrations.0004_custom_checks_by_name")
    migration.custom_checks_by_name(apps, None)


def test_migration_converts_registered_paths_and_disables_the_rest(custom_checks, payload):
    config, _ = payload
    registered = HealthCheckFactory(
        kind=CheckKind.CUSTOM,
        config={"path": "tests.monitoring.custom_checks.answers", "kwargs": {"status": "degraded"}},
    )
    unknown = HealthCheckFactory(kind=CheckKind.CUSTOM, config=config, critical=True)
    by_name = HealthCheckFactory(kind=CheckKind.CUSTOM, config={"name": "raises"})
    _migrate()
    registered.refresh_from_db()
    assert registered.enabled and registered.config == {"name": "answers", "params": {"status": "degraded"}}
    assert health_check_run(check=registered).status == "degraded"
    unknown.refresh_from_db()
    assert not unknown.enabled and unknown.last_status == "unhealthy"
    assert unknown.config == config  # kept for reference; nothing imports it
    assert "subprocess.run is not registered in HEALTH_CUSTOM_CHECKS" in unknown.last_message
    by_name.refresh_from_db()
    assert by_name.enabled and by_name.config == {"name": "raises"}
