"""A delivery sent again (a worker killed mid-send, its claim released) carries the same delivery
id, so receivers can drop the repeat: webhooks in the signed payload (`delivery_id`) and the
`X-Portal-Delivery` header, email in a Message-ID derived from it."""

import json

import pytest
from django.core import mail
from django.utils import timezone

from monitoring.alerting.models import Delivery, DeliveryStatus
from monitoring.alerting.notify import channel_test, deliveries_release_stale, delivery_send, notifications_queue
from monitoring.alerting.transports.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_verify,
)
from tests.alerting.factories import ChannelFactory


@pytest.fixture
def alert(make_alert):
    return make_alert()


def queue(alert, channel):
    (delivery,) = notifications_queue(alert=alert, event="trigger", channels=[channel], now=timezone.now())
    return delivery


def crash_mid_send(delivery_id: int) -> None:
    """What a SIGKILLed worker leaves behind: the row claimed long ago, never finished; the sweep
    hands it out again."""
    long_ago = timezone.now() - timezone.timedelta(hours=1)
    Delivery.objects.filter(pk=delivery_id).update(status=DeliveryStatus.SENDING, claimed_at=long_ago)
    assert deliveries_release_stale(now=timezone.now()) == 1


def test_a_webhook_sent_again_after_a_crash_carries_the_same_signed_delivery_id(httpserver, alert):
    httpserver.expect_request("/hook").respond_with_data("ok")
    channel = ChannelFactory(kind="webhook", url=httpserver.url_for("/hook"), secret="topsecret")
    delivery = queue(alert, channel)
    assert delivery_send(delivery_id=delivery.pk) == "sent"
    crash_mid_send(delivery.pk)
    assert delivery_send(delivery_id=delivery.pk) == "sent"
    first, again = (request for request, _ in httpserver.log)
    for request in (first, again):
        body = request.get_data()
        assert json.loads(body)["delivery_id"] == delivery.pk
        assert request.headers[DELIVERY_HEADER] == str(delivery.pk)
        assert signature_verify(
            "topsecret",
            timestamp=request.headers[TIMESTAMP_HEADER],
            body=body,
            signature=request.headers[SIGNATURE_HEADER],
        )


def test_each_delivery_has_its_own_id(httpserver, alert):
    httpserver.expect_request("/hook").respond_with_data("ok")
    channel = ChannelFactory(kind="webhook", url=httpserver.url_for("/hook"), secret="topsecret")
    one, two = queue(alert, channel), channel_test(channel=channel)
    delivery_send(delivery_id=one.pk)
    delivery_send(delivery_id=two.pk)
    ids = [json.loads(request.get_data())["delivery_id"] for request, _ in httpserver.log]
    assert ids == [one.pk, two.pk]


def test_an_email_sent_again_keeps_its_message_id_one_per_recipient(alert, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    channel = ChannelFactory(kind="email", url="", secret="", addresses=["a@example.com", "b@example.com"])
    delivery = queue(alert, channel)
    assert delivery_send(delivery_id=delivery.pk) == "sent"
    crash_mid_send(delivery.pk)
    assert delivery_send(delivery_id=delivery.pk) == "sent"
    ids = {}
    for message in mail.outbox:
        header = message.message()["Message-ID"]
        ids.setdefault(message.to[0], set()).add(header)
        assert message.extra_headers["X-Portal-Delivery"] == str(delivery.pk)
    assert set(ids) == {"a@example.com", "b@example.com"}
    assert all(len(headers) == 1 for headers in ids.values())  # the same id each time it is sent
    (a,), (b,) = ids.values()
    assert a != b  # a Message-ID names one message: each recipient has their own
    # From the portal's address, not the sending machine's name: any worker makes the same id.
    assert a.startswith(f"<alert-delivery-{delivery.pk}.") and a.endswith("@portal.example.com>")
