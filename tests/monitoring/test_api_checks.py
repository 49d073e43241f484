import pytest
from django.utils import timezone

from monitoring.healthchecks.kinds import Outcome
from monitoring.healthchecks.runner import health_check_record, health_check_run
from monitoring.models import CheckKind, HealthCheck
from tests.monitoring.factories import HealthCheckFactory

URL = "/api/v1/health-checks/"
RESULTS = "/api/v1/health-check-results/"


def expected_read(actor):
    return {"anonymous": 401, "other_key": 403}.get(actor, 200)


@pytest.mark.parametrize("actor", ["anonymous", "viewer", "operator", "admin", "other_key"])
def test_read_role_matrix(api_client, actor, django_assert_max_num_queries):
    checks = [HealthCheckFactory() for _ in range(3)]
    for check in checks:
        health_check_run(check=check)
    client = api_client(actor)
    with django_assert_max_num_queries(8):
        listing = client.get(URL)
    assert listing.status_code == expected_read(actor)
    assert client.get(f"{URL}{checks[0].pk}/").status_code == expected_read(actor)
    assert client.get(RESULTS).status_code == expected_read(actor)
    if listing.status_code == 200:
        assert listing.json()["count"] == 3
        assert listing.json()["results"][0]["last_status"] == "healthy"


@pytest.mark.parametrize(
    ("actor", "expected"), [("anonymous", 401), ("viewer", 403), ("operator", 403), ("admin", 201), ("other_key", 403)]
)
def test_write_role_matrix(api_client, service, actor, expected):
    body = {"service": "checkout", "name": "db", "kind": "database", "config": {}, "critical": True}
    assert api_client(actor).post(URL, body, format="json").status_code == expected
    assert HealthCheck.objects.count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize(
    ("actor", "expected"), [("anonymous", 401), ("viewer", 403), ("operator", 200), ("admin", 200), ("other_key", 403)]
)
def test_run_now_needs_operator(api_client, actor, expected):
    check = HealthCheckFactory()
    response = api_client(actor).post(f"{URL}{check.pk}/run/")
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["status"] == "healthy"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "http", "config": {"url": "nope"}}, "config"),
        ({"kind": "tcp", "config": {"host": "localhost"}}, "config"),
        ({"kind": "heartbeat"}, "period_seconds"),
        ({"kind": "heartbeat", "cron": "every day"}, "cron"),
        ({"kind": "database", "timeout_seconds": 600}, "timeout_seconds"),
        ({"kind": "ftp"}, "kind"),
    ],
)
def test_create_validation_names_the_field(api_client, body, field):
    response = api_client("admin").post(URL, {"name": "x", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_heartbeat_gets_a_ping_url(api_client):
    response = api_client("admin").post(
        URL, {"name": "nightly", "kind": "heartbeat", "cron": "0 3 * * *", "grace_seconds": 600}, format="json"
    )
    assert response.status_code == 201, response.json()
    check = HealthCheck.objects.get()
    assert response.json()["ping_url"] == f"http://testserver/ping/{check.uuid}"


def test_partial_update_keeps_config_valid(api_client):
    check = HealthCheckFactory(kind=CheckKind.TCP, config={"host": "127.0.0.1", "port": 5432})
    admin = api_client("admin")
    assert admin.patch(f"{URL}{check.pk}/", {"critical": True}, format="json").status_code == 200
    assert "config" in admin.patch(f"{URL}{check.pk}/", {"config": {"host": "x"}}, format="json").json()


def test_results_filter_by_check(api_client):
    a, b = HealthCheckFactory(), HealthCheckFactory()
    health_check_run(check=a)
    health_check_run(check=a)  # the same status: not stored again
    health_check_record(check=a, outcome=Outcome("unhealthy", "down"), now=timezone.now())
    health_check_run(check=b)
    response = api_client("viewer").get(RESULTS, {"health_check": a.pk})
    assert [(r["health_check"], r["status"]) for r in response.json()["results"]] == [
        (a.pk, "unhealthy"),
        (a.pk, "healthy"),
    ]


def test_http_check_headers_are_write_only_and_survive_a_round_trip(api_client, httpserver):
    httpserver.expect_request("/up", headers={"Authorization": "Bearer s3cret"}).respond_with_data("ok")
    config = {"url": httpserver.url_for("/up"), "headers": {"Authorization": "Bearer s3cret"}}
    admin = api_client("admin")
    created = admin.post(URL, {"name": "api", "kind": "http", "config": config}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["config"]["headers"] == {"Authorization": "********"}
    check = HealthCheck.objects.get()
    listing = api_client("viewer").get(URL).content.decode()
    assert "s3cret" not in listing and "********" in listing
    # an edit that sends the config back as it was read keeps the stored secret
    echoed = {**created.json()["config"], "body_contains": "ok"}
    assert admin.patch(f"{URL}{check.pk}/", {"config": echoed}, format="json").status_code == 200
    check.refresh_from_db()
    assert check.config["headers"] == {"Authorization": "Bearer s3cret"} and check.config["body_contains"] == "ok"
    assert admin.post(f"{URL}{check.pk}/run/").json()["status"] == "healthy"  # the server saw the real header


def test_an_edited_check_is_due_at_the_next_sweep(api_client):
    from datetime import timedelta

    from django.utils import timezone

    check = HealthCheckFactory(interval_seconds=86400, next_run_at=timezone.now() + timedelta(days=1))
    response = api_client("admin").patch(f"{URL}{check.pk}/", {"interval_seconds": 60}, format="json")
    assert response.status_code == 200
    check.refresh_from_db()
    assert check.next_run_at is None
