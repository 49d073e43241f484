"""Lone surrogates (an escaped half of a UTF-16 pair, which Python's JSON decoder lets through)
become U+FFFD where JSON is decoded, so no request ends in a 500 at the database write."""

import json

import pytest

from portal.lib.surrogates import may_hold_surrogates, surrogates_replaced
from portal.models import Deployment


@pytest.mark.parametrize(
    "text, repaired",
    [
        ("plain é ✓", "plain é ✓"),
        ("a\ud800b", "a\ufffdb"),
        ("\udfff", "\ufffd"),
        ("\ud83d\ude00", "\U0001f600"),  # a pair still as two code units joins again
        ("\U0001f600", "\U0001f600"),
        ("\ud800\ud800", "\ufffd\ufffd"),
    ],
)
def test_text_is_repaired_only_where_it_is_broken(text, repaired):
    assert surrogates_replaced({"k": [text], text: 1}) == {"k": [repaired], repaired: 1}


def test_only_an_escaped_surrogate_can_bring_one_in():
    assert may_hold_surrogates(json.dumps("a\ud800b").encode())
    assert may_hold_surrogates(b'"\\uDFFF"')
    assert not may_hold_surrogates(json.dumps("é \U0001f600", ensure_ascii=False).encode())
    assert not may_hold_surrogates(b'"\\u00e9 \\ud7ff \\ue000"')


@pytest.mark.django_db
def test_the_api_stores_a_lone_surrogate_as_the_replacement_character(key_client):
    body = json.dumps({"version": "1.\ud8002", "description": "x\udc00"})
    response = key_client.post("/api/v1/deployments/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert Deployment.objects.values_list("version", "description").get() == ("1.\ufffd2", "x\ufffd")
