import hashlib

import pytest
from django.contrib.messages import get_messages
from django.db import connection

from portal.api.throttling import ServiceKeyWriteThrottle
from portal.keys import service_key_find, service_key_issue, service_key_revoke
from portal.models import Deployment, ServiceKey

pytestmark = pytest.mark.django_db


def test_admin_creates_a_key_that_is_shown_once(api_client, service):
    client = api_client("admin")
    response = client.post(f"/api/v1/services/{service.slug}/keys/", {"name": "prod web"}, format="json")
    assert response.status_code == 201
    raw = response.json()["key"]
    assert raw.startswith(f"pk_{response.json()['prefix']}_")
    listing = client.get("/api/v1/service-keys/", {"service__slug": service.slug}).json()
    assert listing["count"] == 1
    assert "key" not in listing["results"][0]
    assert raw not in client.get(f"/api/v1/service-keys/{listing['results'][0]['id']}/").content.decode()


@pytest.mark.parametrize(
    "actor, expected", [("anonymous", 401), ("viewer", 403), ("operator", 403), ("other_key", 403)]
)
def test_only_admins_issue_keys(api_client, service, actor, expected):
    response = api_client(actor).post(f"/api/v1/services/{service.slug}/keys/", {}, format="json")
    assert response.status_code == expected
    assert not ServiceKey.objects.filter(service=service).exists()


def test_key_is_hashed_at_rest(service):
    issued = service_key_issue(service=service)
    stored = ServiceKey.objects.get(pk=issued.key.pk)
    assert stored.hashed == hashlib.sha256(issued.raw.encode()).hexdigest()
    secret = issued.raw.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT prefix, hashed, name FROM portal_servicekey")
        dump = repr(cursor.fetchall())
    assert secret not in dump


def test_key_authenticates_and_writes_for_its_own_service(key_client, service, service_key):
    response = key_client.post("/api/v1/deployments/", {"version": "1.4.2"}, format="json")
    assert response.status_code == 201, response.content
    deployment = Deployment.objects.get()
    assert deployment.service == service
    service_key.key.refresh_from_db()
    assert service_key.key.last_used_at is not None


def test_key_of_one_service_cannot_write_for_another(key_client, other_service):
    response = key_client.post("/api/v1/deployments/", {"service": other_service.slug, "version": "9"}, format="json")
    assert response.status_code == 403
    assert "service" in response.json()["detail"]
    assert not Deployment.objects.exists()


def test_revoked_key_is_refused(key_client, service_key):
    assert service_key_revoke(key=service_key.key) is True
    assert service_key_revoke(key=service_key.key) is False  # revoking twice changes nothing
    response = key_client.post("/api/v1/deployments/", {"version": "1"}, format="json")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert not Deployment.objects.exists()


def test_revoke_through_the_api(api_client, service_key):
    response = api_client("admin").post(f"/api/v1/service-keys/{service_key.key.pk}/revoke/")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert service_key_find(service_key.raw) is None


@pytest.mark.parametrize("actor, expected", [("viewer", 403), ("operator", 403), ("other_key", 403)])
def test_only_admins_revoke(api_client, service_key, actor, expected):
    assert api_client(actor).post(f"/api/v1/service-keys/{service_key.key.pk}/revoke/").status_code == expected
    assert service_key_find(service_key.raw) is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer pk_short_x", "Bearer nonsense", "Bearer pk_0123abcd_wrongsecret"],
)
def test_malformed_or_unknown_keys_get_401(client, service_key, header):
    response = client.post(
        "/api/v1/deployments/", {"version": "1"}, content_type="application/json", HTTP_AUTHORIZATION=header
    )
    assert response.status_code == 401
    assert "Authorization" in response.json()["detail"]


def test_right_prefix_with_wrong_secret_is_refused(service_key):
    prefix = service_key.key.prefix
    assert service_key_find(f"pk_{prefix}_{'x' * 43}") is None
    assert service_key_find(service_key.raw) == service_key.key


def test_keys_cannot_read_or_manage_people_endpoints(key_client, service):
    assert key_client.get("/api/v1/services/").status_code == 403
    assert key_client.get("/api/v1/deployments/").status_code == 403
    assert key_client.post(f"/api/v1/services/{service.slug}/keys/").status_code == 403


def test_missing_service_is_named_when_a_person_records_a_deployment(api_client):
    response = api_client("admin").post("/api/v1/deployments/", {"version": "1"}, format="json")
    assert response.status_code == 400
    assert "service" in response.json()


def test_bad_deployment_fields_are_named(key_client):
    response = key_client.post("/api/v1/deployments/", {"version": "", "environment": "x" * 80}, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"version", "environment"}
    assert not Deployment.objects.exists()


def test_key_writes_are_throttled_per_key(key_client, monkeypatch):
    monkeypatch.setattr(ServiceKeyWriteThrottle, "THROTTLE_RATES", {"service_write": "3/min"})
    codes = [key_client.post("/api/v1/deployments/", {"version": str(i)}, format="json").status_code for i in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    assert Deployment.objects.count() == 3


def test_admin_action_shows_a_new_key_once(page_client, service):
    response = page_client("admin").post(
        "/admin/portal/service/", {"action": "issue_key", "_selected_action": [service.pk]}, follow=True
    )
    shown = [str(m) for m in get_messages(response.wsgi_request)] or [response.content.decode()]
    key = ServiceKey.objects.get(service=service)
    assert any(f"pk_{key.prefix}_" in text for text in shown)


def test_a_service_key_does_not_log_anyone_into_pages(client, service_key):
    response = client.get("/", HTTP_AUTHORIZATION=f"Bearer {service_key.raw}")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_people_get_a_token_for_scripts(client, users):
    response = client.post("/api/v1/auth/token/", {"username": "viewer", "password": "correct horse battery staple"})
    assert response.status_code == 200
    token = response.json()["token"]
    listing = client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Token {token}")
    assert listing.status_code == 200
    wrong = client.post("/api/v1/auth/token/", {"username": "viewer", "password": "nope"})
    assert wrong.status_code == 400 and "non_field_errors" in wrong.json()


@pytest.mark.parametrize(
    "actor, read, write",
    [
        ("anonymous", 401, 401),
        ("viewer", 200, 403),
        ("operator", 200, 403),
        ("admin", 200, 201),
        ("other_key", 403, 201),
    ],
)
def test_deployments_role_matrix(api_client, service, other_service, actor, read, write):
    client = api_client(actor)
    assert client.get("/api/v1/deployments/").status_code == read
    # People name the service; a key may only record its own (other_key belongs to "billing").
    body = {"version": "2.0", "service": other_service.slug if actor == "other_key" else service.slug}
    assert client.post("/api/v1/deployments/", body, format="json").status_code == write
    if actor == "other_key":
        denied = client.post("/api/v1/deployments/", {"version": "2.0", "service": service.slug}, format="json")
        assert denied.status_code == 403
    assert Deployment.objects.filter(service=service).count() == (1 if write == 201 and actor != "other_key" else 0)


def test_deployment_list_does_not_grow_queries_with_rows(api_client, service, django_assert_max_num_queries):
    Deployment.objects.bulk_create([Deployment(service=service, version=str(i)) for i in range(40)])
    client = api_client("viewer")
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/deployments/").json()["count"] == 40
