"""Maintenance task API: viewers read, admins write."""

import pytest
from django.utils import timezone

from maintenance.models import MaintenanceTask

ACTORS = ("anonymous", "viewer", "operator", "admin", "other_key")
DENIED = (401, 403)


@pytest.fixture
def task(db):
    now = timezone.now()
    return MaintenanceTask.objects.create(kind="refactor", title="Refactor x", created_at=now, updated_at=now)


@pytest.mark.parametrize("actor", ACTORS)
def test_read_role_matrix(api_client, task, actor):
    client = api_client(actor)
    listing = client.get("/api/v1/maintenance/tasks/")
    detail = client.get(f"/api/v1/maintenance/tasks/{task.pk}/")
    if actor in ("viewer", "operator", "admin"):
        assert listing.status_code == detail.status_code == 200
        assert listing.json()["results"][0]["title"] == "Refactor x"
    else:
        assert listing.status_code in DENIED and detail.status_code in DENIED


@pytest.mark.parametrize("actor", ACTORS)
def test_write_role_matrix(api_client, task, actor):
    client = api_client(actor)
    created = client.post("/api/v1/maintenance/tasks/", {"kind": "cleanup", "title": "Clean /tmp"}, format="json")
    patched = client.patch(f"/api/v1/maintenance/tasks/{task.pk}/", {"status": "done"}, format="json")
    if actor == "admin":
        assert created.status_code == 201, created.content
        assert patched.status_code == 200
        task.refresh_from_db()
        assert task.status == "done" and task.closed_at is not None
    elif actor == "anonymous":
        assert created.status_code in DENIED and patched.status_code in DENIED
    else:
        assert created.status_code == patched.status_code == 403


def test_filters_and_validation(api_client, task):
    client = api_client("viewer")
    assert client.get("/api/v1/maintenance/tasks/?kind=refactor&status=open").json()["count"] == 1
    assert client.get("/api/v1/maintenance/tasks/?kind=cleanup").json()["count"] == 0
    bad = api_client("admin").post("/api/v1/maintenance/tasks/", {"kind": "nope", "title": "x"}, format="json")
    assert bad.status_code == 400 and "kind" in bad.json()


def test_admin_pages_for_tasks(page_client, task):
    assert page_client("admin").get("/admin/maintenance/maintenancetask/").status_code == 200
    assert page_client("admin").get(f"/admin/maintenance/maintenancetask/{task.pk}/change/").status_code == 200
    assert page_client("viewer").get("/admin/maintenance/maintenancetask/").status_code == 302
