"""One-click acknowledge links: valid, expired, tampered, reused, wrong alert; GET is safe; only
recipients who may acknowledge (operators, admins, addresses allowed on the channel) can use one."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from monitoring.alerting.acklinks import ack_link_token
from monitoring.alerting.lifecycle import alert_acknowledge
from monitoring.alerting.models import Alert, AlertEvent
from monitoring.alerting.notify import delivery_send, notifications_queue
from tests.alerting.conftest import T0
from tests.alerting.factories import ChannelFactory


def url(alert_id, token):
    return f"/alerts/{alert_id}/ack/{token}/"


@pytest.fixture
def link(make_alert, users):
    alert = make_alert()
    return alert, ack_link_token(alert_id=alert.pk, recipient=users["operator"].email)


def test_get_shows_a_confirmation_and_changes_nothing(link):
    alert, token = link
    response = Client().get(url(alert.pk, token))
    assert response.status_code == 200
    assert b"Acknowledge it as <b>operator@example.com</b>" in response.content
    alert.refresh_from_db()
    assert alert.status == "firing"


def test_post_acknowledges_as_the_recipient_without_a_login(link, users):
    alert, token = link
    client = Client(enforce_csrf_checks=True)
    page = client.get(url(alert.pk, token))
    csrf = page.cookies["csrftoken"].value
    response = client.post(url(alert.pk, token), {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 200 and b'now <span class="badge acknowledged">' in response.content
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == users["operator"]
    event = AlertEvent.objects.get(alert=alert, kind="acknowledged")
    assert event.details["via"] == "email link (operator@example.com)"


def test_post_without_csrf_token_is_refused(link):
    alert, token = link
    response = Client(enforce_csrf_checks=True).post(url(alert.pk, token))
    assert response.status_code == 403
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_expired_link_is_refused_and_shows_nothing_of_the_alert(link, users, settings):
    alert, _ = link
    settings.ALERTING_ACK_LINK_MAX_AGE_HOURS = 24

    with time_machine.travel(T0, tick=False):
        token = ack_link_token(alert_id=alert.pk, recipient=users["operator"].email)
    with time_machine.travel(T0 + timedelta(hours=24, seconds=1), tick=False):
        response = Client().post(url(alert.pk, token))
    assert response.status_code == 400 and b"expired" in response.content
    assert alert.summary.encode() not in response.content
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_link_within_its_lifetime_works(make_alert, users):
    alert = make_alert()
    with time_machine.travel(T0, tick=False):
        token = ack_link_token(alert_id=alert.pk, recipient=users["operator"].email)
    with time_machine.travel(T0 + timedelta(hours=23, minutes=59), tick=False):
        assert Client().post(url(alert.pk, token)).status_code == 200
    assert Alert.objects.get(pk=alert.pk).status == "acknowledged"


def test_tampered_link_is_refused(link):
    alert, token = link
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = Client().post(url(alert.pk, tampered))
    assert response.status_code == 400 and b"not valid" in response.content
    assert alert.summary.encode() not in response.content
    assert Alert.objects.get(pk=alert.pk).status == "firing"


@pytest.mark.parametrize("token", ["anything", "x" * 80, "eyJhIjoxfQ:1abc:def"])
def test_a_garbage_token_shows_nothing_about_the_alert(make_alert, token):
    alert = make_alert()
    for response in (Client().get(url(alert.pk, token)), Client().post(url(alert.pk, token))):
        assert response.status_code == 400 and b"not valid" in response.content
        assert alert.summary.encode() not in response.content and b"firing" not in response.content
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_reused_link_is_refused(link, users):
    alert, token = link
    assert Client().post(url(alert.pk, token)).status_code == 200
    Alert.objects.filter(pk=alert.pk).update(status="firing")  # someone un-acknowledged it since
    response = Client().post(url(alert.pk, token))
    assert response.status_code == 400 and b"already been used" in response.content
    assert Client().get(url(alert.pk, token)).status_code == 400
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_link_for_another_alert_is_refused(link, make_alert):
    _alert, token = link
    other = make_alert()
    response = Client().post(url(other.pk, token))
    assert response.status_code == 400 and b"not valid" in response.content
    assert other.summary.encode() not in response.content
    assert Alert.objects.get(pk=other.pk).status == "firing"


def test_link_to_a_deleted_alert_is_404(link):
    alert, token = link
    Alert.objects.filter(pk=alert.pk).delete()
    assert Client().get(url(alert.pk, token)).status_code == 404


def test_link_on_an_already_acknowledged_alert_says_so_and_stays_unused(link, users):
    alert, token = link
    alert_acknowledge(alert=alert, by=users["admin"], via="page")
    response = Client().post(url(alert.pk, token))
    assert b"Cannot acknowledge" in response.content
    assert AlertEvent.objects.filter(alert=alert, kind="acknowledged").count() == 1


def test_the_acknowledgement_is_attributed_to_the_recipient_not_the_session(make_alert, users):
    alert = make_alert()
    token = ack_link_token(alert_id=alert.pk, recipient="admin@example.com")
    client = Client()
    client.force_login(users["viewer"])
    assert client.post(url(alert.pk, token)).status_code == 200
    alert.refresh_from_db()
    assert alert.acknowledged_by == users["admin"]


def test_an_address_allowed_on_the_channel_acknowledges_and_is_named_in_the_timeline(make_alert):
    alert = make_alert()
    channel = ChannelFactory(
        kind="email", url="", secret="", addresses=[{"address": "oncall@example.com", "ack": True}]
    )
    token = ack_link_token(alert_id=alert.pk, recipient="oncall@example.com", channel_id=channel.pk)
    assert Client().post(url(alert.pk, token)).status_code == 200
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by is None
    assert alert.events.latest("id").actor_name == "email link (oncall@example.com)"


@pytest.mark.parametrize("entry", ["oncall@example.com", {"address": "oncall@example.com", "ack": False}])
def test_an_outside_address_not_allowed_on_the_channel_is_refused(make_alert, entry):
    alert = make_alert()
    channel = ChannelFactory(kind="email", url="", secret="", addresses=[entry])
    token = ack_link_token(alert_id=alert.pk, recipient="oncall@example.com", channel_id=channel.pk)
    for response in (Client().get(url(alert.pk, token)), Client().post(url(alert.pk, token))):
        assert response.status_code == 403 and alert.summary.encode() not in response.content
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_an_unknown_address_without_a_channel_is_refused(make_alert):
    alert = make_alert()
    token = ack_link_token(alert_id=alert.pk, recipient="stranger@example.org")
    assert Client().post(url(alert.pk, token)).status_code == 403
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_a_viewers_link_is_refused(make_alert, users):
    alert = make_alert()
    token = ack_link_token(alert_id=alert.pk, recipient=users["viewer"].email)
    response = Client().post(url(alert.pk, token))
    assert response.status_code == 403 and b"operator role" in response.content
    assert alert.summary.encode() not in response.content
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_a_link_stops_working_when_its_recipient_loses_the_operator_role(link, users):
    alert, token = link
    users["operator"].groups.clear()
    assert Client().post(url(alert.pk, token)).status_code == 403
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_the_address_on_the_channel_loses_the_power_when_taken_off(make_alert):
    alert = make_alert()
    channel = ChannelFactory(
        kind="email", url="", secret="", addresses=[{"address": "oncall@example.com", "ack": True}]
    )
    token = ack_link_token(alert_id=alert.pk, recipient="oncall@example.com", channel_id=channel.pk)
    channel.addresses = ["oncall@example.com"]
    channel.save()
    assert Client().post(url(alert.pk, token)).status_code == 403


def test_opening_a_link_of_an_alert_someone_else_acknowledged_offers_no_button(link, users):
    alert, token = link
    alert_acknowledge(alert=alert, by=users["admin"], via="page")
    response = Client().get(url(alert.pk, token))
    html = response.content.decode()
    assert response.status_code == 200
    assert "already" in html and "by admin" in html and "<form" not in html.split("<main")[-1].split("</main>")[0]


def test_only_recipients_who_may_acknowledge_get_a_link_in_the_email(make_alert, users):
    alert = make_alert()
    allowed = {"address": "oncall@example.com", "ack": True}
    channel = ChannelFactory(kind="email", url="", secret="", addresses=[allowed, "team-list@example.com"])
    channel.users.set([users["viewer"], users["operator"]])
    (delivery,) = notifications_queue(alert=alert, event="trigger", channels=[channel], now=timezone.now())
    assert delivery_send(delivery_id=delivery.pk) == "sent"
    bodies = {m.to[0]: m.body + m.alternatives[0][0] for m in mail.outbox}
    assert set(bodies) == {"oncall@example.com", "team-list@example.com", "viewer@example.com", "operator@example.com"}
    ack = f"/alerts/{alert.pk}/ack/"
    assert {to for to, body in bodies.items() if ack in body} == {"oncall@example.com", "operator@example.com"}
    assert all(f"/alerts/{alert.pk}/" in body for body in bodies.values())  # everyone gets the alert link


def test_a_person_paged_directly_gets_a_link_only_with_the_operator_role(make_alert, users):
    alert = make_alert()
    people = [users["viewer"], users["operator"]]
    for delivery in notifications_queue(alert=alert, event="escalation", channels=[], users=people, now=timezone.now()):
        delivery_send(delivery_id=delivery.pk)
    links = {m.to[0]: f"/alerts/{alert.pk}/ack/" in m.body for m in mail.outbox}
    assert links == {"viewer@example.com": False, "operator@example.com": True}
    token = next(m for m in mail.outbox if m.to[0] == "operator@example.com").body.split("/ack/")[1].split("/")[0]
    assert Client().post(url(alert.pk, token)).status_code == 200
    assert Alert.objects.get(pk=alert.pk).acknowledged_by == users["operator"]
