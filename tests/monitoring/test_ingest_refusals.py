"""Samples the database could not store or that make no sense are refused by field, with a 400:
negative counter increments and NUL characters in label values."""

import json

import pytest

from monitoring.models import Metric, MetricSample

URL = "/api/v1/metrics/"


def post(client, samples):
    return client.post(URL, data=json.dumps({"samples": samples}), content_type="application/json")


def fields(response) -> list[str]:
    assert response.status_code == 400, response.content
    return [error["field"] for error in response.json()["errors"]]


def test_a_negative_increment_of_a_declared_counter_is_refused(key_client):
    good = {"name": "orders_total", "value": 1, "type": "counter"}
    response = post(key_client, [good, {**good, "value": -3}])
    assert fields(response) == ["samples[1].value"]
    assert "negative" in response.json()["errors"][0]["message"]
    assert not MetricSample.objects.exists() and not Metric.objects.exists()


def test_a_negative_increment_of_a_stored_counter_is_refused_without_a_type(key_client):
    assert post(key_client, [{"name": "orders_total", "value": 2, "type": "counter"}]).status_code == 201
    response = post(key_client, [{"name": "orders_total", "value": 1}, {"name": "orders_total", "value": -0.5}])
    assert fields(response) == ["samples[1].value"]
    assert MetricSample.objects.count() == 1


def test_gauges_may_go_negative(key_client):
    response = post(key_client, [{"name": "temperature", "value": -12.5, "type": "gauge"}, {"name": "x", "value": -1}])
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "tail\x00"])
def test_a_nul_character_in_a_label_value_is_refused_naming_the_label(key_client, value):
    samples = [{"name": "queue_depth", "value": 1, "labels": {"queue": "ok"}}]
    samples.append({"name": "queue_depth", "value": 1, "labels": {"queue": "ok", "route": value}})
    response = post(key_client, samples)
    assert fields(response) == ["samples[1].labels.route"]
    assert "NUL" in response.json()["errors"][0]["message"]
    assert not MetricSample.objects.exists()


def test_an_escaped_nul_in_the_json_text_is_refused_too(key_client):
    raw = '{"samples": [{"name": "queue_depth", "value": 1, "labels": {"queue": "a\\u0000b"}}]}'
    response = key_client.post(URL, data=raw, content_type="application/json")
    assert fields(response) == ["samples[0].labels.queue"]
