"""Every kind of secret named in the docs is masked before storage, at any depth."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitoring.errors.models import ErrorEvent, ErrorGroup
from monitoring.errors.normalize import _FRAME_TEXT, bound, clean, event_normalize
from monitoring.errors.scrub import (
    _may_hold_secret_param,
    any_may_hold_credentials,
    is_secret_key,
    may_hold_credentials,
    scrub_event,
    scrub_text,
    scrub_value,
)
from monitoring.errors.store import events_store
from portal.lib.masking import _PARAM_WORDS, SUBSTITUTE
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


# The endpoint bounds and scrubs in one pass (normalize.clean, normalize._frame); these hold it
# to the two passes it replaces and to the scrubber's own rules.
_KEYS = st.sampled_from(["password", "user", "QUERY_STRING", "author", "x-api-key", "headers", "data", "", "k" * 250])
_TEXTS = st.sampled_from(
    ["plain", "a=1&token=abc", "https://u:pw@h/x", "x" * 1100, "order_id=7", "SECRET=1", "", "mail@host", "?key=v"]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXTS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(_TEXTS | _KEYS, children).map(list)
        | st.dictionaries(_KEYS, children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON, depth=st.integers(min_value=0, max_value=6))
# Found by a random run: a list under a query key, past the depth limit, is text once bounded.
@example(value={"QUERY_STRING": ["plain", "SECRET=1"]}, depth=4)
def test_one_pass_cleaning_equals_bounding_then_scrubbing(value, depth):
    assert clean(value, depth) == scrub_value(bound(value, depth))


def test_a_prepared_event_has_nothing_left_to_scrub():
    leaky = _leaky_event()
    leaky["exception"]["values"][0]["stacktrace"]["frames"].append(
        frame("shop.db", "connect", context_line='    DSN = "https://key:hunter2@sentry.test/1"', pre_context=["x = 1"],
              vars={"QUERY_STRING": "a=1&token=tok-123", "pairs": [["password", "hunter2"], ["page", "2"]]})
    )  # fmt: skip
    prepared = event_normalize(leaky, now=datetime(2026, 1, 1, tzinfo=UTC))["event"]
    assert scrub_event(prepared) == prepared
    text = json.dumps(prepared)
    for secret in SECRETS:
        assert secret not in text, secret


def test_frame_keys_are_not_secret_names_and_the_word_lists_agree():
    # _frame masks no frame key: that only holds while none of them looks like a secret.
    assert not [key for key in (*_FRAME_TEXT, "lineno", "colno", "in_app", "pre_context", "post_context", "vars")
                if is_secret_key(key)]  # fmt: skip
    for word in _PARAM_WORDS:
        assert _may_hold_secret_param(f"x{word}y"), word
    assert not _may_hold_secret_param("order_id request next_step result")


_FRAME_STRINGS = st.lists(
    st.sampled_from(["x = 1", "TOKEN", "a=b", "https://u:p@h", "mail@host", "http://h/", "key", "plain", "", "=", "@"])
    | st.text(alphabet="=@:/?&atokenTOKEN ", max_size=12),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(texts=_FRAME_STRINGS)
def test_the_frame_pre_check_misses_no_string_the_scrubber_would_change(texts):
    # _frame scrubs a frame's strings only when any_may_hold_credentials says one of them may
    # hold a credential: it must be true whenever one of them would be changed.
    if any(may_hold_credentials(text) for text in texts) or any(scrub_text(text) != text for text in texts):
        assert any_may_hold_credentials(texts)
    assert not any_may_hold_credentials(["    result = next_step(request, order_id=5)", "shop/views.py", "# token"])
