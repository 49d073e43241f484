"""The DEBUG 500 page and error emails never show credentials, even inside URLs and nested settings."""

import logging
import sys

import pytest
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import path
from django.utils.log import AdminEmailHandler
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from portal.errorreports import mask_credentials

SECRETS = ("smtp-pw-1", "redis-pw-2", "base-pw-3", "q-pw-4", "env-db-pw-5", "frame-pw-6", "tok-7", "dict-pw-8")


@sensitive_variables("password")
def broken(request):
    # Built at run time: the page shows these source lines, and only the values must be hidden.
    password = "never-" + "shown"  # noqa: F841
    dsn = "postgres://app:frame-" + "pw-6@db.internal/portal?sslmode=require&token=tok" + "-7"  # noqa: F841
    options = {"PASSWORD": "dict-" + "pw-8", "HOST": "db.internal"}  # noqa: F841
    raise RuntimeError("boom")


@sensitive_post_parameters("password")
def login_broken(request):
    raise RuntimeError(request.POST["username"])


urlpatterns = [path("boom/", broken), path("login-boom/", login_broken)]


@pytest.fixture
def leaky_settings(settings):
    settings.DEBUG = True
    settings.EMAIL_CONFIG = {"EMAIL_HOST": "mail.example.com", "EMAIL_HOST_PASSWORD": "smtp-pw-1"}
    settings.EMAIL_HOST_PASSWORD = "smtp-pw-1"
    settings.REDIS_URL = "redis://:redis-pw-2@cache.internal:6379/0"
    settings.PORTAL_BASE_URL = "https://portal:base-pw-3@portal.example.com"
    settings.CSRF_TRUSTED_ORIGINS = [settings.PORTAL_BASE_URL]
    settings.Q_CLUSTER = {"name": "portal", "redis": "redis://:q-pw-4@cache.internal:6379/1"}
    return settings


@pytest.mark.urls(__name__)
def test_the_debug_500_page_shows_no_credentials(leaky_settings):
    client = Client(raise_request_exception=False)
    environ = {
        "EMAIL_URL": "smtp://portal:smtp-pw-1@mail.example.com:587",
        "DATABASE_URL": "postgres://u:env-db-pw-5@db/p",
    }
    response = client.get("/boom/", **environ)
    html = response.content.decode()
    assert response.status_code == 500 and "RuntimeError" in html and "EMAIL_URL" in html  # it is the debug page
    for secret in (*SECRETS, "never-shown"):
        assert secret not in html, secret
    # Masked, not removed: the page still tells which server and user were configured.
    assert "smtp://portal:********************@mail.example.com:587" in html
    assert "cache.internal" in html


@pytest.mark.urls(__name__)
def test_sensitive_post_parameters_are_hidden_even_with_debug_on(leaky_settings):
    # Django skips this filtering under DEBUG; here DEBUG pages are seen by every viewer.
    response = Client(raise_request_exception=False).post("/login-boom/", {"password": "form-pw-9", "username": "x"})
    assert response.status_code == 500 and "form-pw-9" not in response.content.decode()


@pytest.mark.urls(__name__)
def test_error_emails_show_no_credentials(leaky_settings):
    leaky_settings.DEBUG = False
    leaky_settings.ADMINS = [("ops", "ops@example.com")]
    request = RequestFactory().get("/boom/", EMAIL_URL="smtp://portal:smtp-pw-1@mail.example.com:587")
    try:
        broken(request)
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    record.request = request
    AdminEmailHandler(include_html=True).emit(record)
    (message,) = mail.outbox
    text = message.body + message.alternatives[0][0]
    assert "RuntimeError" in text
    for secret in SECRETS:
        assert secret not in text, secret


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("smtp://u:p@h:25", "smtp://u:********************@h:25"),
        ("redis://:p@h/0", "redis://:********************@h/0"),
        ("https://tok@o1.sentry.io/2", "https://********************@o1.sentry.io/2"),
        ("https://h/x?a=1&api_key=zz&b=2", "https://h/x?a=1&api_key=********************&b=2"),
        ("https://example.com/path", "https://example.com/path"),
        ("two: a://x:1@h b://y:2@k", "two: a://x:********************@h b://y:********************@k"),
    ],
)
def test_mask_credentials(raw, masked):
    assert mask_credentials(raw) == masked
