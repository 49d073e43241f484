"""/api/v1/errors/projects/: the DSNs for people, key regeneration for admins."""

import pytest

from monitoring.errors.models import ErrorProject

URL = "/api/v1/errors/projects/"


@pytest.fixture
def project(service, settings):
    settings.PORTAL_BASE_URL = "https://ops.example.com"
    return ErrorProject.for_service(service)


@pytest.mark.parametrize(("actor", "expected"), [("anonymous", 401), ("viewer", 200), ("other_key", 403)])
def test_people_read_the_dsns(api_client, project, actor, expected, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = api_client(actor).get(URL)
    assert response.status_code == expected
    if expected == 200:
        [row] = response.json()["results"]
        assert row["service"] == "checkout"
        assert row["dsn"] == f"https://{project.public_key}@ops.example.com/{project.pk}"


@pytest.mark.parametrize(
    ("actor", "expected"), [("viewer", 403), ("operator", 403), ("admin", 200), ("other_key", 403)]
)
def test_only_admins_regenerate_a_key(api_client, project, actor, expected):
    old = project.public_key
    response = api_client(actor).post(f"{URL}{project.pk}/regenerate-key/")
    assert response.status_code == expected
    project.refresh_from_db()
    assert (project.public_key != old) == (expected == 200)
    if expected == 200:
        assert response.json()["dsn"].startswith(f"https://{project.public_key}@")


def test_admins_make_a_project_for_a_service_once(api_client, other_service):
    admin = api_client("admin")
    first = admin.post(URL, {"service": "billing"}, format="json")
    assert first.status_code == 201
    again = admin.post(URL, {"service": "billing"}, format="json")
    assert again.status_code == 200
    assert again.json()["dsn"] == first.json()["dsn"]
    missing = admin.post(URL, {"service": "nope"}, format="json")
    assert missing.status_code == 400
    assert "service" in missing.json()
    assert api_client("operator").post(URL, {"service": "billing"}, format="json").status_code == 403
