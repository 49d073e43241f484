"""Every kind of secret named in the docs is masked before storage, at any depth."""

import json
from datetime import UTC, datetime

import pytest

from monitoring.errors.models import ErrorEvent, ErrorGroup
from monitoring.errors.scrub import is_secret_key, scrub_event
from monitoring.errors.store import events_store
from portal.lib.masking import SUBSTITUTE
from tests.errors.builders import event, exception, frame

SECRETS = ["hunter2", "tok-123", "s3cr3t", "key-abc", "sess-xyz", "csrf-999", "cred-1", "Bearer abc.def", "bk-77"]


def _leaky_event() -> dict:
    return event(
        exception(
            "ValueError",
            "cannot reach https://admin:hunter2@db.internal/x",
            [
                frame(
                    "shop.views", "login", vars={"password": "hunter2", "user": "bob", "nested": {"api_key": "key-abc"}}
                )
            ],
        ),
        message="see https://api.example.test/cb?code=1&access_token=tok-123",
        request={
            "url": "https://shop.example.test/login?next=/&token=tok-123",
            "method": "POST",
            "query_string": "next=%2F&session_id=sess-xyz&page=2",
            "cookies": {"sessionid": "sess-xyz", "theme": "dark"},
            "headers": {
                "Authorization": "Bearer abc.def",
                "Cookie": "sessionid=sess-xyz",
                "X-Api-Key": "key-abc",
                "X-CSRFToken": "csrf-999",
                "User-Agent": "curl",
            },
            "data": {"username": "bob", "passwd": "hunter2", "profile": {"client_secret": "s3cr3t"}},
            "env": {"REMOTE_ADDR": "10.0.0.1"},
        },
        extra={"deep": {"deeper": [{"credentials": "cred-1"}, {"basicAuth": "bk-77"}]}, "author": "Ann"},
        contexts={"db": {"pwd": "hunter2", "host": "db"}},
        tags={"auth_token": "tok-123", "region": "eu"},
        breadcrumbs={"values": [{"message": "GET https://u:hunter2@x.test/", "data": {"apikey": "key-abc"}}]},
        user={"id": "42", "email": "bob@example.test", "session": "sess-xyz"},
    )


def test_the_scrubber_masks_every_secret_kind():
    scrubbed = scrub_event(_leaky_event())
    text = json.dumps(scrubbed)
    for secret in SECRETS:
        assert secret not in text, secret
    request = scrubbed["request"]
    assert request["cookies"] == {"sessionid": SUBSTITUTE, "theme": SUBSTITUTE}
    assert request["headers"]["User-Agent"] == "curl"
    assert request["headers"]["Authorization"] == SUBSTITUTE
    assert request["query_string"] == f"next=%2F&session_id={SUBSTITUTE}&page=2"
    assert request["url"] == f"https://shop.example.test/login?next=/&token={SUBSTITUTE}"
    assert request["data"]["username"] == "bob"
    assert scrubbed["extra"]["author"] == "Ann"  # "author" is not "auth"
    assert scrubbed["tags"]["region"] == "eu"
    assert "admin:" + SUBSTITUTE + "@db.internal" in scrubbed["exception"]["values"][0]["value"]


def test_pairs_and_form_bodies_are_scrubbed():
    body = scrub_event(
        {
            "request": {"headers": [["Authorization", "Basic eA=="], ["Accept", "*/*"]], "data": "user=a&password=p1"},
            "tags": [["token", "t1"], ["env", "prod"]],
        }
    )
    assert body["request"]["headers"] == [["Authorization", SUBSTITUTE], ["Accept", "*/*"]]
    assert body["request"]["data"] == f"user=a&password={SUBSTITUTE}"
    assert body["tags"] == [["token", SUBSTITUTE], ["env", "prod"]]


@pytest.mark.parametrize(
    "key",
    ["password", "PASSWD", "db_pwd", "accessToken", "client-secret", "api_key", "ApiKey", "x-api-key", "auth",
     "basicAuth", "Authorization", "credentials", "sessionid", "csrfmiddlewaretoken", "X-XSRF-TOKEN", "Cookie",
     "private_key", "signature"],
)  # fmt: skip
def test_secret_key_names(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["author", "authored_by", "user", "keyboard", "monkey", "path", "status"])
def test_ordinary_key_names(key):
    assert not is_secret_key(key)


@pytest.mark.django_db
def test_nothing_secret_reaches_the_database(service):
    events_store(service=service, events=[_leaky_event()], now=datetime(2026, 1, 1, tzinfo=UTC))
    stored = ErrorEvent.objects.values().get()
    text = json.dumps(stored, default=str) + json.dumps(list(ErrorGroup.objects.values()), default=str)
    for secret in SECRETS:
        assert secret not in text, secret
