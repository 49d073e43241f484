"""Password guessing is throttled (django-axes) on the login form, the admin login and the API
token exchange: after AXES_FAILURE_LIMIT failures for a username from one address, a clear 429
until the cool-off ends."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = 0.25  # hours: 15 minutes


def form_login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def token(client, username, password):
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, content_type="application/json"
    )


def test_the_login_form_blocks_after_the_limit_and_says_so(users):
    client = Client()
    codes = [form_login(client, "viewer", f"wrong{i}").status_code for i in range(6)]
    assert codes == [200, 200, 200, 200, 429, 429]
    response = form_login(client, "viewer", PASSWORD)  # the right password does not help now
    assert response.status_code == 429 and int(response["Retry-After"]) == 900
    assert "Login blocked" in response.content.decode() and "15 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_block_ends_with_the_cool_off(users):
    client = Client()
    for i in range(5):
        form_login(client, "viewer", f"wrong{i}")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = form_login(client, "viewer", PASSWORD)
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(users["viewer"].pk)


def test_the_api_token_exchange_answers_429_in_json(users):
    client = Client()
    codes = [token(client, "operator", "nope").status_code for _ in range(5)]
    assert codes == [400, 400, 400, 400, 429]
    response = token(client, "operator", PASSWORD)
    assert response.status_code == 429 and "token" not in response.json()
    assert "Too many failed logins" in response.json()["detail"] and response["Retry-After"] == "900"


def test_form_and_api_failures_count_together(users):
    client = Client()
    for i in range(3):
        form_login(client, "viewer", f"wrong{i}")
    token(client, "viewer", "nope")
    assert token(client, "viewer", "nope").status_code == 429
    assert form_login(client, "viewer", PASSWORD).status_code == 429


def test_the_admin_login_is_throttled_too(users):
    client = Client()
    for i in range(5):
        client.post("/admin/login/", {"username": "admin", "password": f"wrong{i}"})
    assert client.post("/admin/login/", {"username": "admin", "password": PASSWORD}).status_code == 429


def test_other_usernames_and_other_addresses_are_not_blocked(users):
    for i in range(5):
        form_login(Client(), "viewer", f"wrong{i}")
    assert form_login(Client(), "operator", PASSWORD).status_code == 302
    assert form_login(Client(REMOTE_ADDR="10.1.2.3"), "viewer", PASSWORD).status_code == 302


def test_a_successful_login_clears_the_failures(users):
    client = Client()
    for i in range(4):
        form_login(client, "viewer", f"wrong{i}")
    assert form_login(client, "viewer", PASSWORD).status_code == 302
    assert [form_login(Client(), "viewer", f"again{i}").status_code for i in range(4)] == [200] * 4


def test_logins_without_a_request_still_work(users, client):
    # Shell scripts, management commands and tests' client.login() call authenticate() bare.
    assert authenticate(username="viewer", password=PASSWORD) == users["viewer"]
    assert client.login(username="viewer", password=PASSWORD)
    assert authenticate(username="viewer", password="wrong") is None
