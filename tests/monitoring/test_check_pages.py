"""Health-check pages for admins: role matrix, kind-specific fields judged by the kind's
`validate` with errors on the field they name, and saving like the admin does."""

import pytest

from monitoring.models import CheckKind, HealthCheck
from tests.monitoring.factories import HealthCheckFactory

pytestmark = pytest.mark.django_db

PAGE_ACTORS = ("anonymous", "norole", "viewer", "operator", "admin")
PAGE = {"anonymous": 302, "norole": 403, "viewer": 403, "operator": 403, "admin": 200}
HTTP = {
    "name": "checkout api",
    "kind": "http",
    "enabled": "on",
    "interval_seconds": "60",
    "timeout_seconds": "5",
    "grace_seconds": "300",
    "http_url": "https://checkout.example/health",
    "http_method": "GET",
    "http_expected_status": "200, 204",
    "http_verify_tls": "on",
}


def post(client, url, **changes):
    data = {k: v for k, v in {**HTTP, **changes}.items() if v is not None}
    return client.post(url, data)


def errors_of(response) -> dict[str, str]:
    return {name: " ".join(errors) for name, errors in response.context["form"].errors.items()}


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_check_pages_are_for_admins_only(page_client, actor):
    check = HealthCheckFactory()
    client = page_client(actor)
    for url in ("/monitoring/health/new/", f"/monitoring/health/{check.pk}/edit/"):
        response = client.get(url)
        assert response.status_code == PAGE[actor], url
        if actor == "anonymous":
            assert response.url.startswith("/login/?next=")
    response = post(client, "/monitoring/health/new/")
    assert response.status_code == (302 if actor in ("anonymous", "admin") else 403)
    assert HealthCheck.objects.filter(name="checkout api").exists() is (actor == "admin")


@pytest.mark.parametrize("actor", PAGE_ACTORS[2:])
def test_health_pages_link_to_the_forms_for_admins_only(page_client, actor):
    check = HealthCheckFactory()
    health = page_client(actor).get("/monitoring/health/").content.decode()
    detail = page_client(actor).get(f"/monitoring/health/{check.pk}/").content.decode()
    assert ("/monitoring/health/new/" in health) is (actor == "admin")
    assert (f"/monitoring/health/{check.pk}/edit/" in detail) is (actor == "admin")


def test_admin_creates_an_http_check(page_client, service):
    response = post(page_client("admin"), "/monitoring/health/new/", service=service.pk, http_degraded_ms="800")
    check = HealthCheck.objects.get(name="checkout api")
    assert response.status_code == 302 and response.url == f"/monitoring/health/{check.pk}/"
    assert check.kind == CheckKind.HTTP and check.service == service
    assert check.config == {
        "url": "https://checkout.example/health",
        "method": "GET",
        "expected_status": [200, 204],
        "degraded_ms": 800,
        "follow_redirects": False,
        "verify_tls": True,
    }


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"http_url": "ftp://x"}, "http_url", "http(s) URL"),
        ({"http_url": ""}, "http_url", "http(s) URL"),
        ({"http_expected_status": "ok"}, "http_expected_status", "status code"),
        ({"http_expected_status": "200, 999"}, "http_expected_status", "status code"),
        ({"http_method": "PUT"}, "http_method", "valid choice"),
        ({"http_degraded_ms": "-5"}, "http_degraded_ms", "positive"),
        ({"timeout_seconds": "600"}, "timeout_seconds", "between"),
        ({"interval_seconds": "5"}, "interval_seconds", "between"),
        ({"name": ""}, "name", "required"),
        ({"kind": "ping"}, "kind", "valid choice"),
    ],
)
def test_http_check_errors_are_named_per_field(page_client, changes, field, message):
    response = post(page_client("admin"), "/monitoring/health/new/", **changes)
    assert response.status_code == 400
    errors = errors_of(response)
    assert field in errors and message in errors[field], errors
    assert f'data-field="{field}"><li>' in response.content.decode()
    assert not HealthCheck.objects.exists()


def test_other_kinds_fields(page_client, custom_checks):
    client = page_client("admin")
    tcp = post(client, "/monitoring/health/new/", kind="tcp", name="redis", tcp_host="", tcp_port="70000")
    assert tcp.status_code == 400
    errors = errors_of(tcp)
    assert "required" in errors["tcp_host"] and "port number" in errors["tcp_port"]
    system = post(client, "/monitoring/health/new/", kind="system", name="host", system_cpu_percent="95, 80")
    assert "degraded_at <= unhealthy_at" in errors_of(system)["system_cpu_percent"]
    nothing = post(client, "/monitoring/health/new/", kind="system", name="host")
    assert "Set at least one of" in errors_of(nothing)["system_cpu_percent"]
    beat = post(client, "/monitoring/health/new/", kind="heartbeat", name="nightly", cron="not cron")
    assert "cron" in errors_of(beat)
    custom = post(client, "/monitoring/health/new/", kind="custom", name="c", custom_name="nope", custom_params="{}")
    assert "not a registered custom check" in errors_of(custom)["custom_name"]
    custom = post(client, "/monitoring/health/new/", kind="custom", name="c", custom_name="hangs",
                  custom_params='{"seconds": 99}')  # fmt: skip
    assert "seconds:" in errors_of(custom)["custom_params"]
    bad_json = post(client, "/monitoring/health/new/", kind="custom", name="c", custom_name="hangs", custom_params="{")
    assert "Not valid JSON" in errors_of(bad_json)["custom_params"]
    assert not HealthCheck.objects.exists()
    ok = post(client, "/monitoring/health/new/", kind="custom", name="c", custom_name="hangs",
              custom_params='{"seconds": 2}')  # fmt: skip
    assert ok.status_code == 302
    assert HealthCheck.objects.get(name="c").config == {"name": "hangs", "params": {"seconds": 2}}
    assert post(client, "/monitoring/health/new/", kind="system", name="host", system_memory_percent="80,95",
                system_disk_percent="").status_code == 302  # fmt: skip
    assert HealthCheck.objects.get(name="host").config == {"memory_percent": [80, 95]}


def test_edit_shows_the_config_keeps_hidden_headers_and_makes_the_check_due(page_client):
    check = HealthCheckFactory(
        name="api",
        kind=CheckKind.HTTP,
        config={"url": "https://a.example/", "expected_status": [200, 204], "headers": {"Authorization": "Bearer s"}},
    )
    HealthCheck.objects.filter(pk=check.pk).update(next_run_at="2030-01-01T00:00:00Z")
    client = page_client("admin")
    html = client.get(f"/monitoring/health/{check.pk}/edit/").content.decode()
    assert 'value="https://a.example/"' in html and 'value="200, 204"' in html
    assert "Bearer s" not in html
    response = post(client, f"/monitoring/health/{check.pk}/edit/", name="api", http_url="https://b.example/")
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.config["url"] == "https://b.example/" and check.config["headers"] == {"Authorization": "Bearer s"}
    assert check.next_run_at is None
