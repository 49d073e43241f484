"""The receivers API: admins create, list, re-issue and revoke tokens, edit and delete; viewers
read without tokens; service keys are refused. A token is shown once and works at once."""

import pytest
from rest_framework.test import APIClient

from monitoring.alerting.models import Alert, AlertRule, AlertStatus, RuleSource
from monitoring.integrations.models import Receiver

URL = "/api/v1/integrations/receivers/"
FIRING = {
    "version": "4",
    "status": "firing",
    "alerts": [{"status": "firing", "labels": {"alertname": "Down"}, "fingerprint": "f1"}],
}


def body(**overrides):
    return {"name": "prod", "kind": "alertmanager", "service": "checkout", **overrides}


def post_alerts(token, payload=FIRING, kind="alertmanager"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(f"/api/v1/integrations/{kind}/", payload, format="json")


@pytest.fixture
def made(api_client, service):
    """A receiver created through the API, with its answer."""
    answer = api_client("admin").post(URL, body(severity_map={"P1": "critical"}), format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


@pytest.mark.django_db
def test_created_receiver_shows_its_token_once_and_it_works(api_client, made, service):
    token = made["token"]
    assert token.startswith(f"rt_{made['token_prefix']}_")
    assert made["has_token"] is True and made["webhook_url"] == "http://testserver/api/v1/integrations/alertmanager/"
    receiver = Receiver.objects.get()
    assert receiver.token_hashed and token not in receiver.token_hashed  # kept hashed
    rule = AlertRule.objects.get(pk=made["rule"])  # made at once: channels can be set first
    assert rule.source == RuleSource.EXTERNAL and rule.service == service
    assert post_alerts(token).status_code == 200
    assert Alert.objects.get().rule == rule
    for actor in ("viewer", "admin"):
        listed = api_client(actor).get(URL).json()["results"]
        assert [r["name"] for r in listed] == ["prod"]
        assert "token" not in listed[0] and token not in str(listed)
        detail = api_client(actor).get(f"{URL}{made['id']}/").json()
        assert "token" not in detail and detail["severity_map"] == {"P1": "critical"}


@pytest.mark.django_db
def test_a_new_token_replaces_the_old_and_revoking_stops_it(api_client, made):
    client = api_client("admin")
    answer = client.post(f"{URL}{made['id']}/token/")
    assert answer.status_code == 200
    new = answer.json()["token"]
    assert new != made["token"]
    assert post_alerts(made["token"]).status_code == 401
    assert post_alerts(new).status_code == 200
    answer = client.post(f"{URL}{made['id']}/revoke-token/")
    assert answer.status_code == 200
    assert answer.json()["has_token"] is False and answer.json()["token_prefix"] is None
    assert "token" not in answer.json()
    assert post_alerts(new).status_code == 401


@pytest.mark.django_db
def test_a_revoked_receiver_still_takes_its_services_key(api_client, made, key_client):
    api_client("admin").post(f"{URL}{made['id']}/revoke-token/")
    answer = key_client.post("/api/v1/integrations/alertmanager/", FIRING, format="json")
    assert answer.status_code == 200 and answer.json()["receiver"] == "prod"


@pytest.mark.django_db
def test_editing_moves_the_rule_to_the_new_service(api_client, made, other_service):
    answer = api_client("admin").patch(f"{URL}{made['id']}/", {"service": "billing"}, format="json")
    assert answer.status_code == 200, answer.content
    assert "token" not in answer.json()
    assert AlertRule.objects.get(pk=made["rule"]).service == other_service


@pytest.mark.django_db
def test_deleting_a_receiver_resolves_its_alerts(api_client, made):
    post_alerts(made["token"])
    assert api_client("admin").delete(f"{URL}{made['id']}/").status_code == 204
    assert not Receiver.objects.exists() and not AlertRule.objects.filter(pk=made["rule"]).exists()
    assert Alert.objects.get().status == AlertStatus.RESOLVED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "pagerduty"}, "kind"),
        ({"service": "nope"}, "service"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"severity_map": {"P1": "urgent"}}, "severity_map"),
        ({"severity_map": ["critical"]}, "severity_map"),
        ({"default_severity": "fatal"}, "default_severity"),
        ({"severity_label": "s" * 101}, "severity_label"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, service, overrides, field):
    answer = api_client("admin").post(URL, body(**overrides), format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json(), answer.json()
    assert not Receiver.objects.exists()


@pytest.mark.django_db
def test_names_are_unique_and_the_kind_stays(api_client, made):
    client = api_client("admin")
    assert "name" in client.post(URL, body(kind="grafana"), format="json").json()
    answer = client.patch(f"{URL}{made['id']}/", {"kind": "grafana"}, format="json")
    assert answer.status_code == 400 and "kind" in answer.json()


@pytest.mark.django_db
def test_filters(api_client, made, other_service):
    api_client("admin").post(URL, body(name="graf", kind="grafana", service="billing"), format="json")
    client = api_client("viewer")
    assert [r["name"] for r in client.get(URL, {"kind": "grafana"}).json()["results"]] == ["graf"]
    assert [r["name"] for r in client.get(URL, {"service__slug": "checkout"}).json()["results"]] == ["prod"]


# Who may do what: anonymous 401; viewers and operators read; admins write; service keys (the
# receiver's own service's or another's) are refused everywhere: they post alerts, not settings.
EXPECTED = {
    "anonymous": {"list": 401, "detail": 401, "create": 401, "update": 401, "token": 401, "revoke": 401, "delete": 401},
    "viewer": {"list": 200, "detail": 200, "create": 403, "update": 403, "token": 403, "revoke": 403, "delete": 403},
    "operator": {"list": 200, "detail": 200, "create": 403, "update": 403, "token": 403, "revoke": 403, "delete": 403},
    "admin": {"list": 200, "detail": 200, "create": 201, "update": 200, "token": 200, "revoke": 200, "delete": 204},
    "own_key": {"list": 403, "detail": 403, "create": 403, "update": 403, "token": 403, "revoke": 403, "delete": 403},
    "other_key": {"list": 403, "detail": 403, "create": 403, "update": 403, "token": 403, "revoke": 403, "delete": 403},
}


@pytest.mark.django_db
@pytest.mark.parametrize("actor", list(EXPECTED))
def test_role_matrix(api_client, key_client, service, actor):
    receiver = Receiver.objects.create(name="existing", kind="alertmanager", service=service)
    before = Receiver.objects.get().token_hashed
    client = key_client if actor == "own_key" else api_client(actor)
    detail = f"{URL}{receiver.pk}/"
    requests = {
        "list": lambda: client.get(URL),
        "detail": lambda: client.get(detail),
        "create": lambda: client.post(URL, body(name=f"new-{actor}"), format="json"),
        "update": lambda: client.patch(detail, {"enabled": False}, format="json"),
        "token": lambda: client.post(f"{detail}token/"),
        "revoke": lambda: client.post(f"{detail}revoke-token/"),
        "delete": lambda: client.delete(detail),
    }
    got = {name: send().status_code for name, send in requests.items()}
    assert got == EXPECTED[actor]
    if EXPECTED[actor]["token"] != 200:
        receiver.refresh_from_db()
        assert receiver.token_hashed == before and receiver.enabled  # nothing changed
        assert Receiver.objects.count() == 1


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_many_receivers(api_client, service, django_assert_max_num_queries):
    client = api_client("viewer")
    Receiver.objects.create(name="one", kind="alertmanager", service=service)
    with django_assert_max_num_queries(10) as few:
        client.get(URL)
    for index in range(30):
        Receiver.objects.create(name=f"r{index}", kind="grafana", service=service)
    with django_assert_max_num_queries(len(few)):
        assert len(client.get(URL).json()["results"]) == 31
