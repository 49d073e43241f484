"""One rule for "admin" — a superuser or a member of the `admin` group — shared by the pages, the
API and the Django admin; `is_staff` follows it."""

from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from portal.roles import user_role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def rights(user) -> dict:
    """What each surface lets this user do as an admin."""
    page = Client()
    page.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    return {
        "role": user_role(user),
        "admin site": page.get("/admin/").status_code == 200,
        "admin link": b'href="/admin/"' in page.get("/").content,
        "api write": api.post("/api/v1/services/", {"name": f"svc {user.pk}"}, format="json").status_code == 201,
    }


ADMIN = {"role": "admin", "admin site": True, "admin link": True, "api write": True}
NOT_ADMIN = {"admin site": False, "admin link": False, "api write": False}


def test_a_member_of_the_admin_group_without_staff_status_is_an_admin_everywhere():
    user = UserFactory(username="grouped")
    user.groups.add(Group.objects.get(name="admin"))
    assert not user.is_staff
    assert rights(user) == ADMIN


def test_staff_status_alone_makes_nobody_an_admin():
    user = UserFactory(username="flagged", is_staff=True)
    user.groups.add(Group.objects.get(name="viewer"))
    assert rights(user) == {"role": "viewer", **NOT_ADMIN}


def test_a_superuser_is_an_admin_everywhere():
    assert rights(UserFactory(username="root", is_superuser=True)) == ADMIN


def test_the_admin_login_asks_the_same_rule():
    grouped = UserFactory(username="grouped")
    grouped.groups.add(Group.objects.get(name="admin"))
    UserFactory(username="flagged", is_staff=True)
    assert Client().post("/admin/login/", {"username": "grouped", "password": PASSWORD}).status_code == 302
    refused = Client().post("/admin/login/", {"username": "flagged", "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in refused.wsgi_request.session


def test_staff_status_follows_the_groups_set_in_the_user_admin(page_client):
    user = UserFactory(username="alice")
    admin_group, viewer_group = Group.objects.get(name="admin"), Group.objects.get(name="viewer")
    client = page_client("admin")
    change = f"/admin/auth/user/{user.pk}/change/"
    form = {
        "username": "alice",
        "email": "alice@example.com",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    response = client.post(change, {**form, "is_staff": "", "groups": [admin_group.pk]})
    assert response.status_code == 302, response.content.decode()[:3000]
    user.refresh_from_db()
    assert user.is_staff and user_role(user) == "admin"
    # Ticking "staff" by hand does nothing; leaving the admin group removes the flag.
    client.post(change, {**form, "is_staff": "on", "groups": [viewer_group.pk]})
    user = type(user).objects.get(pk=user.pk)  # user_role caches on the instance
    assert not user.is_staff and user_role(user) == "viewer"


def test_the_migration_keeps_every_former_admin_an_admin():
    admins = Group.objects.get(name="admin")
    staff_only = UserFactory(username="staff", is_staff=True)
    group_only = UserFactory(username="grouped")
    group_only.groups.add(admins)
    nobody = UserFactory(username="nobody")
    import_module("portal.migrations.0004_admin_role_is_staff").align(apps, None)
    for user in (staff_only, group_only, nobody):
        user.refresh_from_db()
    assert admins in staff_only.groups.all() and group_only.is_staff
    assert not nobody.is_staff and not nobody.groups.exists()
