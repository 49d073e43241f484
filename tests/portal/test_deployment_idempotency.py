"""A deployment sent again with the same Idempotency-Key (a CI job retrying after a lost answer)
is recorded once; the key is per service, and without one every request records a deployment."""

import threading

import pytest
from rest_framework.test import APIClient

from portal.lib.idempotency import MAX_KEY_LENGTH
from portal.models import Deployment
from tests.support import on_postgres

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployments/"


def record(client, key: str | None = None, **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, {"version": "2.1.0", **body}, format="json", **headers)


def test_a_retry_with_the_same_key_answers_the_first_deployment_and_writes_nothing(key_client):
    first = record(key_client, "deploy-881")
    assert first.status_code == 201, first.content
    again = record(key_client, "deploy-881", version="something else")
    assert again.status_code == 200
    assert again.json() == first.json()  # the deployment recorded first, not the retry's body
    assert list(Deployment.objects.values_list("version", flat=True)) == ["2.1.0"]


def test_other_keys_and_no_key_record_each_request(key_client):
    assert record(key_client, "a").status_code == 201
    assert record(key_client, "b").status_code == 201
    assert record(key_client).status_code == 201
    assert record(key_client).status_code == 201
    assert Deployment.objects.count() == 4


def test_the_same_key_for_another_service_is_another_deployment(key_client, api_client, other_service):
    assert record(key_client, "release").status_code == 201
    response = record(api_client("other_key"), "release")
    assert response.status_code == 201
    assert response.json()["service"] == other_service.slug
    assert Deployment.objects.count() == 2


def test_an_admin_retry_is_recorded_once_too(api_client, service):
    admin = api_client("admin")
    assert record(admin, "k1", service=service.slug).status_code == 201
    assert record(admin, "k1", service=service.slug).status_code == 200
    assert Deployment.objects.count() == 1


def test_a_key_too_long_is_refused_naming_the_header(key_client):
    response = record(key_client, "k" * (MAX_KEY_LENGTH + 1))
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not Deployment.objects.exists()
    assert record(key_client, "k" * MAX_KEY_LENGTH).status_code == 201


def test_an_invalid_body_is_refused_before_the_key_is_looked_at(key_client):
    assert record(key_client, "k", version="").status_code == 400
    assert record(key_client, "k").status_code == 201  # the refused request did not use up the key


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_record_one_deployment(service_key):
    from django.db import connection

    if not on_postgres():
        pytest.skip("concurrent writers need PostgreSQL in tests (SQLite's shared-cache test database)")
    codes, barrier = [], threading.Barrier(4)

    def retry():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {service_key.raw}")
        barrier.wait()
        try:
            codes.append(record(client, "race").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 200, 200, 201]
    assert Deployment.objects.count() == 1
