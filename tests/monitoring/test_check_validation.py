"""A health check's kind-specific settings are judged once, by the model
(`HealthCheck.config_errors`, applied by `full_clean`): the admin form, the API serializer and the
health-check page all show what it finds, each where its own fields are."""

import pytest
from django.core.exceptions import ValidationError

from monitoring.models import HealthCheck
from tests.monitoring.test_check_pages import HTTP

pytestmark = pytest.mark.django_db


def test_the_model_refuses_a_bad_config_itself():
    check = HealthCheck(name="x", kind="http", config={"url": "ftp://example.com", "method": "PUT"})
    with pytest.raises(ValidationError) as info:
        check.full_clean()
    assert sorted(info.value.message_dict["config"]) == [
        "method: must be GET, HEAD or POST",
        "url: must be an http(s) URL",
    ]


def test_the_model_puts_schedule_errors_on_their_fields_and_refuses_a_config_that_is_not_an_object():
    beat = HealthCheck(name="b", kind="heartbeat", config={}, period_seconds=None, cron="")
    with pytest.raises(ValidationError) as info:
        beat.full_clean()
    assert set(info.value.message_dict) & {"period_seconds", "cron"}
    listed = HealthCheck(name="l", kind="tcp", config=["not", "an", "object"])
    with pytest.raises(ValidationError) as info:
        listed.full_clean()
    assert info.value.message_dict["config"] == ["Must be a JSON object."]


@pytest.fixture
def judged(monkeypatch):
    calls = []
    real = HealthCheck.config_errors

    def spy(self):
        calls.append(self.kind)
        return real(self)

    monkeypatch.setattr(HealthCheck, "config_errors", spy)
    return calls


def test_the_api_shows_the_models_errors_nested_under_config(api_client, judged):
    body = {"name": "x", "kind": "http", "config": {"url": "ftp://example.com"}}
    response = api_client("admin").post("/api/v1/health-checks/", body, format="json")
    assert response.status_code == 400
    assert response.json()["config"] == {"url": ["must be an http(s) URL"]}
    assert judged == ["http"]


def test_the_admin_shows_the_models_errors(page_client, judged):
    form = {"name": "x", "kind": "http", "config": '{"url": "ftp://example.com"}', "interval_seconds": "60",
            "timeout_seconds": "5", "grace_seconds": "300", "cron": ""}  # fmt: skip
    response = page_client("admin").post("/admin/monitoring/healthcheck/add/", form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["config"] == ["url: must be an http(s) URL"]
    assert judged == ["http"]
    assert not HealthCheck.objects.exists()


def test_the_page_shows_the_models_errors_on_the_field_of_the_key(page_client, judged):
    response = page_client("admin").post("/monitoring/health/new/", {**HTTP, "http_url": "ftp://example.com"})
    assert response.status_code == 400
    assert response.context["form"].errors["http_url"] == ["Must be an http(s) URL"]
    assert judged == ["http"]
