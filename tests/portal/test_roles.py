import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from portal.roles import has_role, operator_permission_codes, sync_role_permissions, user_role
from tests.conftest import ACTORS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "actor, expected",
    [("anonymous", 302), ("norole", 200), ("viewer", 200), ("operator", 200), ("admin", 200)],
)
def test_home_page_needs_login(page_client, actor, expected):
    response = page_client(actor).get("/")
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/login/")


def test_home_page_tells_a_user_without_role_to_ask_for_one(page_client):
    assert b"has no role yet" in page_client("norole").get("/").content
    assert b"has no role yet" not in page_client("viewer").get("/").content


@pytest.mark.parametrize("actor, expected", [("anonymous", 302), ("viewer", 302), ("operator", 302), ("admin", 200)])
def test_only_admins_reach_the_django_admin(page_client, actor, expected):
    assert page_client(actor).get("/admin/").status_code == expected


def test_admin_link_shown_only_to_admins(page_client):
    assert b'href="/admin/"' in page_client("admin").get("/").content
    assert b'href="/admin/"' not in page_client("operator").get("/").content


@pytest.mark.parametrize(
    "actor, read, write",
    [
        ("anonymous", 401, 401),
        ("viewer", 200, 403),
        ("operator", 200, 403),
        ("admin", 200, 201),
        ("other_key", 403, 403),
    ],
)
def test_service_api_role_matrix(api_client, actor, read, write):
    assert actor in ACTORS
    client = api_client(actor)
    assert client.get("/api/v1/services/").status_code == read
    assert client.post("/api/v1/services/", {"name": "Search"}, format="json").status_code == write


def test_roles_rank_upwards(users):
    assert user_role(users["norole"]) is None
    assert has_role(users["viewer"], "viewer") and not has_role(users["viewer"], "operator")
    assert has_role(users["operator"], "viewer") and not has_role(users["operator"], "admin")
    assert has_role(users["admin"], "operator")


def test_inactive_user_has_no_role(users):
    users["operator"].is_active = False
    assert user_role(users["operator"]) is None


def test_group_permissions_follow_the_rules():
    sync_role_permissions()
    viewer = set(Group.objects.get(name="viewer").permissions.values_list("codename", flat=True))
    operator = set(Group.objects.get(name="operator").permissions.values_list("codename", flat=True))
    assert "view_service" in viewer and "add_service" not in viewer
    assert viewer <= operator
    assert "add_service" not in operator
    assert "add_service" in Group.objects.get(name="admin").permissions.values_list("codename", flat=True)


def test_apps_grant_operator_permissions_from_their_app_config(monkeypatch):
    config = apps.get_app_config("portal")
    monkeypatch.setattr(config, "operator_permissions", ("portal.add_deployment",), raising=False)
    assert "portal.add_deployment" in operator_permission_codes()
    sync_role_permissions()
    operator = Group.objects.get(name="operator").permissions.values_list("codename", flat=True)
    assert "add_deployment" in operator
    assert "add_deployment" not in Group.objects.get(name="viewer").permissions.values_list("codename", flat=True)


def test_migrate_leaves_every_app_permission_on_the_roles():
    # The test database was built by migrate: no explicit sync has run in this test.
    viewer = set(Group.objects.get(name="viewer").permissions.values_list("content_type__app_label", flat=True))
    assert {"portal", "monitoring", "alerting", "codehealth", "maintenance"} <= viewer
    operator_codes = {
        f"{a}.{c}"
        for a, c in Group.objects.get(name="operator").permissions.values_list("content_type__app_label", "codename")
    }
    assert set(operator_permission_codes()) <= operator_codes
