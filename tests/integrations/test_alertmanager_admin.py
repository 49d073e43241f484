"""The receivers' admin: the token is shown once, the managed rule exists before the first alert,
deleting a receiver resolves its open alerts."""

import re

import pytest
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from monitoring.alerting.models import Alert, AlertRule, AlertStatus, RuleSource
from monitoring.integrations.models import Receiver

ADD = "/admin/integrations/receiver/add/"
CHANGELIST = "/admin/integrations/receiver/"
TOKEN = re.compile(r"rt_[0-9a-f]{8}_\S+")


@pytest.fixture
def admin_client(page_client):
    return page_client("admin")


def _token(response) -> str:
    """The newest token message (messages not yet shown are still queued before it)."""
    found = [m for message in get_messages(response.wsgi_request) if (m := TOKEN.search(str(message)))]
    return found[-1].group(0)


def _add(admin_client, service, name="prod"):
    response = admin_client.post(
        ADD,
        {
            "name": name,
            "kind": "alertmanager",
            "service": service.pk,
            "enabled": "on",
            "severity_label": "severity",
            "severity_map": "{}",
            "default_severity": "warning",
        },
    )
    assert response.status_code == 302, response.content
    return response


def test_adding_a_receiver_shows_its_token_once_and_creates_its_rule(admin_client, service):
    token = _token(_add(admin_client, service))
    receiver = Receiver.objects.get()
    assert receiver.rule.source == RuleSource.EXTERNAL and receiver.rule.service == service
    assert token not in receiver.token_hashed and receiver.token_matches(token)
    admin_client.get(CHANGELIST)  # the page after the redirect shows the message, once
    page = admin_client.get(f"{CHANGELIST}{receiver.pk}/change/").content.decode()
    assert token not in page and receiver.token_prefix in page
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    alert = {"status": "firing", "labels": {"alertname": "Down"}, "fingerprint": "0123456789abcdef"}
    response = client.post("/api/v1/integrations/alertmanager/", {"version": "4", "alerts": [alert]}, format="json")
    assert response.status_code == 200 and response.json()["fired"] == 1


def test_issuing_a_new_token_replaces_the_old_one(admin_client, service):
    old = _token(_add(admin_client, service))
    receiver = Receiver.objects.get()
    response = admin_client.post(CHANGELIST, {"action": "issue_token", "_selected_action": [receiver.pk]})
    new = _token(response)
    receiver.refresh_from_db()
    assert new != old and receiver.token_matches(new) and not receiver.token_matches(old)


def test_deleting_a_receiver_resolves_its_alerts(admin_client, service):
    token = _token(_add(admin_client, service))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    alert = {"status": "firing", "labels": {"alertname": "Down"}}
    client.post("/api/v1/integrations/alertmanager/", {"alerts": [alert]}, format="json")
    receiver = Receiver.objects.get()
    response = admin_client.post(f"{CHANGELIST}{receiver.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Receiver.objects.exists() and not AlertRule.objects.filter(source=RuleSource.EXTERNAL).exists()
    assert Alert.objects.get().status == AlertStatus.RESOLVED


@pytest.mark.parametrize("actor", ["viewer", "operator"])
def test_only_staff_manage_receivers(page_client, actor):
    assert page_client(actor).get(CHANGELIST).status_code == 302
