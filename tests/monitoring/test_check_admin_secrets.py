"""HTTP check header values are write-only in the admin, as in the API: never rendered, and a
masked value sent back keeps the stored one."""

import json

import pytest
from django.urls import reverse

from monitoring.healthchecks.masking import SECRET_MASK, config_masked, config_unmasked
from monitoring.models import HealthCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def check(service):
    config = {"url": "https://api.example/up", "headers": {"Authorization": "Bearer t0ps3cret", "X-Team": "web"}}
    return HealthCheck.objects.create(service=service, name="api", kind="http", config=config)


def form_for(check, config) -> dict:
    return {
        "service": check.service_id,
        "name": check.name,
        "kind": "http",
        "config": json.dumps(config),
        "interval_seconds": 60,
        "timeout_seconds": 5,
        "grace_seconds": 300,
        "cron": "",
        "results-TOTAL_FORMS": 0,
        "results-INITIAL_FORMS": 0,
    }


def test_the_change_form_never_shows_header_values(page_client, check):
    html = page_client("admin").get(reverse("admin:monitoring_healthcheck_change", args=[check.pk])).content.decode()
    assert "t0ps3cret" not in html
    assert "Authorization" in html and SECRET_MASK in html and "api.example" in html


def test_saving_the_masked_config_keeps_the_stored_values(page_client, check):
    shown = config_masked(check.config)
    edited = {**shown, "url": "https://api.example/ready", "headers": {**shown["headers"], "X-Team": "payments"}}
    response = page_client("admin").post(
        reverse("admin:monitoring_healthcheck_change", args=[check.pk]), form_for(check, edited)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    check.refresh_from_db()
    assert check.config == {
        "url": "https://api.example/ready",
        "headers": {"Authorization": "Bearer t0ps3cret", "X-Team": "payments"},
    }


def test_a_header_left_out_is_removed(page_client, check):
    config = {"url": "https://api.example/up", "headers": {"X-Team": SECRET_MASK}}
    page_client("admin").post(reverse("admin:monitoring_healthcheck_change", args=[check.pk]), form_for(check, config))
    check.refresh_from_db()
    assert check.config["headers"] == {"X-Team": "web"}


def test_a_mask_for_a_header_that_was_never_stored_is_kept_as_typed():
    assert config_unmasked({"headers": {"New": SECRET_MASK}}, {"headers": {}}) == {"headers": {"New": SECRET_MASK}}
    assert config_unmasked(["not", "a", "dict"], {}) == ["not", "a", "dict"]
