"""Bodies over Django's 2.5 MB form limit are 413 (too big, maybe retry smaller), never 400."""

import json

import pytest
from django.conf import settings


@pytest.fixture
def big_form():
    return "note=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)


@pytest.mark.django_db
def test_a_form_body_over_the_limit_is_413_naming_the_limit(client, big_form):
    response = client.post("/login/", big_form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


@pytest.mark.django_db
def test_an_admin_form_body_over_the_limit_is_413(client, users, big_form):
    client.force_login(users["admin"])
    response = client.post("/admin/portal/service/add/", big_form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


@pytest.mark.django_db
def test_an_api_body_over_the_limit_is_413_not_400(client, users):
    client.force_login(users["admin"])
    body = json.dumps({"name": "x", "description": "y" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    response = client.post("/api/v1/services/", body, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.django_db
def test_a_body_under_the_limit_reaches_the_view(client):
    response = client.post("/login/", "username=a&password=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200  # the login form again, with its error: the view answered
