"""Deliveries against a real local HTTP server and a real SMTP server: outcomes, retries,
backoff, permanent errors, signatures, and exactly-once sending under racing sweepers."""

import json
import threading
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.utils import timezone
from werkzeug import Response

from monitoring.alerting import tasks
from monitoring.alerting.models import Alert, Channel, Delivery
from monitoring.alerting.notify import deliveries_due, deliveries_sweep, delivery_send, notifications_queue
from monitoring.alerting.transports.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_verify
from tests.alerting.factories import ChannelFactory
from tests.support import free_port, on_postgres


@pytest.fixture
def fast_retries(settings):
    settings.ALERTING_DELIVERY_BACKOFF_SECONDS = 60
    settings.ALERTING_DELIVERY_BACKOFF_MAX_SECONDS = 3600
    settings.ALERTING_DELIVERY_MAX_ATTEMPTS = 3
    settings.ALERTING_HTTP_TIMEOUT_SECONDS = 0.5


def queue(alert, channel, event="trigger"):
    (delivery,) = notifications_queue(alert=alert, event=event, channels=[channel], now=timezone.now())
    return delivery


@pytest.fixture
def alert(make_alert):
    return make_alert()


def received(httpserver, path):
    """Requests to one path (a timed-out request of an earlier test may still land in the log)."""
    return [request for request, _ in httpserver.log if request.path == path]


def hook(httpserver, path="/hook"):
    return ChannelFactory(name=f"hook {path}", kind="webhook", url=httpserver.url_for(path), secret="topsecret")


def test_200_is_sent_and_recorded(httpserver, alert, fast_retries):
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    channel = hook(httpserver)
    delivery = queue(alert, channel)
    assert delivery_send(delivery_id=delivery.pk) == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")
    channel.refresh_from_db()
    assert channel.last_success_at is not None and not channel.is_broken
    event = alert.events.get(kind="notified")
    assert event.details["channel"] == channel.name and event.details["attempt"] == 1
    httpserver.check_assertions()


def test_500_retries_with_exponential_backoff_then_gives_up(httpserver, alert, fast_retries):
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    delivery = queue(alert, hook(httpserver))
    now = timezone.now()
    assert delivery_send(delivery_id=delivery.pk, now=now) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(seconds=60)
    assert "HTTP 500" in delivery.last_error
    assert delivery_send(delivery_id=delivery.pk, now=now + timedelta(seconds=30)) is None  # not due yet
    assert delivery_send(delivery_id=delivery.pk, now=now + timedelta(seconds=60)) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(seconds=60 + 120)
    assert delivery_send(delivery_id=delivery.pk, now=now + timedelta(seconds=180)) == "failed"
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.last_error.startswith("gave up after 3 attempts")
    assert "HTTP 500" in Channel.objects.get(pk=delivery.channel_id).last_error
    assert len(received(httpserver, "/hook")) == 3


def test_429_retries_after_the_servers_retry_after(httpserver, alert, fast_retries):
    httpserver.expect_request("/hook").respond_with_data("slow down", status=429, headers={"Retry-After": "300"})
    delivery = queue(alert, hook(httpserver))
    now = timezone.now()
    assert delivery_send(delivery_id=delivery.pk, now=now) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(seconds=300)
    assert Channel.objects.get(pk=delivery.channel_id).last_error == ""  # transient: not a broken channel


def test_404_is_a_permanent_error_shown_on_the_channel(httpserver, alert, fast_retries):
    httpserver.expect_request("/hook").respond_with_data("no such hook", status=404)
    channel = hook(httpserver)
    delivery = queue(alert, channel)
    assert delivery_send(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.next_attempt_at is None
    channel.refresh_from_db()
    assert channel.is_broken and "HTTP 404" in channel.last_error
    failed = alert.events.get(kind="notify_failed")
    assert failed.details["permanent"] is True
    assert deliveries_sweep(now=timezone.now() + timedelta(days=1)) == {}  # never retried


def test_slow_server_times_out_and_is_retried(httpserver, alert, fast_retries):
    def slow(request):
        time.sleep(1.0)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    delivery = queue(alert, hook(httpserver, "/slow"))
    started = time.monotonic()
    assert delivery_send(delivery_id=delivery.pk) == "pending"
    assert time.monotonic() - started < 0.9
    delivery.refresh_from_db()
    assert "timed out" in delivery.last_error
    deadline = time.monotonic() + 5
    while not received(httpserver, "/slow") and time.monotonic() < deadline:
        time.sleep(0.05)  # the test server is single-threaded: let it finish before the next test


def test_webhook_payload_is_signed_and_verifiable_by_a_receiver(httpserver, alert, fast_retries):
    httpserver.expect_request("/signed").respond_with_data("ok")
    delivery = queue(alert, hook(httpserver, "/signed"))
    delivery_send(delivery_id=delivery.pk)
    (request,) = received(httpserver, "/signed")
    body = request.get_data()
    timestamp, signature = request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER]
    assert signature.startswith("sha256=")
    assert signature_verify("topsecret", timestamp=timestamp, body=body, signature=signature)
    assert not signature_verify("wrong", timestamp=timestamp, body=body, signature=signature)
    assert not signature_verify("topsecret", timestamp=timestamp, body=body + b" ", signature=signature)
    assert not signature_verify(
        "topsecret", timestamp=timestamp, body=body, signature=signature, now=int(timestamp) + 3600
    )  # a replay an hour later
    payload = json.loads(body)
    assert payload["version"] == 1 and payload["event"] == "trigger"
    assert payload["alert"]["id"] == alert.pk and payload["alert"]["status"] == "firing"
    assert payload["alert"]["url"].endswith(f"/alerts/{alert.pk}/")
    assert request.headers["X-Portal-Event"] == "trigger"


def test_slack_gets_a_readable_message(httpserver, alert, fast_retries):
    httpserver.expect_request("/services/T/B/x").respond_with_data("ok")
    channel = ChannelFactory(kind="slack", url="", secret=httpserver.url_for("/services/T/B/x"))
    delivery_send(delivery_id=queue(alert, channel).pk)
    (request,) = received(httpserver, "/services/T/B/x")
    text = json.loads(request.get_data())["text"]
    assert "*FIRING*" in text and "[critical]" in text and alert.summary in text
    assert f"/alerts/{alert.pk}/|" in text and "Value: `123`" in text


def test_email_goes_to_users_groups_and_addresses_with_html_text_and_ack_link(alert, users, fast_retries):
    oncall = {"address": "oncall@example.com", "ack": True}
    channel = ChannelFactory(kind="email", url="", secret="", addresses=[oncall])
    channel.users.set([users["operator"]])
    channel.groups.set([Group.objects.get(name="admin")])
    delivery_send(delivery_id=queue(alert, channel).pk)
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == ["admin@example.com", "oncall@example.com", "operator@example.com"]
    message = mail.outbox[0]
    assert message.subject.startswith("[FIRING]")
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "<h2" in html
    assert f"/alerts/{alert.pk}/ack/" in message.body and f"/alerts/{alert.pk}/ack/" in html
    links = {m.body.split(f"/alerts/{alert.pk}/ack/")[1].split("/")[0] for m in mail.outbox}
    assert len(links) == 3  # one link per recipient


def test_resolve_email_has_no_ack_link(alert, fast_retries):
    channel = ChannelFactory(kind="email", url="", secret="", addresses=["oncall@example.com"])
    Alert.objects.filter(pk=alert.pk).update(status="resolved")
    delivery_send(delivery_id=queue(alert, channel, event="resolve").pk)
    assert "[RESOLVED]" in mail.outbox[0].subject and "/ack/" not in mail.outbox[0].body


def test_email_channel_without_recipients_is_a_permanent_error(alert, fast_retries):
    channel = ChannelFactory(kind="email", url="", secret="", addresses=[])
    assert delivery_send(delivery_id=queue(alert, channel).pk) == "failed"
    assert "no recipients" in Channel.objects.get(pk=channel.pk).last_error


def test_a_trigger_for_an_alert_acknowledged_meanwhile_is_cancelled(httpserver, alert, users, fast_retries):
    delivery = queue(alert, hook(httpserver))
    Alert.objects.filter(pk=alert.pk).update(status="acknowledged")
    assert delivery_send(delivery_id=delivery.pk) == "cancelled"
    assert httpserver.log == []


def test_slack_being_down_does_not_hold_up_email(httpserver, alert, fast_retries):
    httpserver.expect_request("/slack").respond_with_data("down", status=503)
    slack = ChannelFactory(kind="slack", url="", secret=httpserver.url_for("/slack"))
    email = ChannelFactory(kind="email", url="", secret="", addresses=["oncall@example.com"])
    queue(alert, slack)
    queue(alert, email)
    groups = deliveries_due(now=timezone.now())
    assert len(groups) == 2  # one task per channel: a slow Slack occupies its own worker
    counts = deliveries_sweep(now=timezone.now())
    assert counts == {"pending": 1, "sent": 1}
    assert len(mail.outbox) == 1


def test_email_through_a_real_smtp_server(alert, settings, fast_retries):
    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append((envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        channel = ChannelFactory(kind="email", url="", secret="", addresses=["a@example.com", "b@example.com"])
        assert delivery_send(delivery_id=queue(alert, channel).pk) == "sent"
    finally:
        controller.stop()
    assert sorted(r[0][0] for r in received) == ["a@example.com", "b@example.com"]
    assert "multipart/alternative" in received[0][1] and alert.summary in received[0][1]


def test_smtp_server_down_is_retried(alert, settings, fast_retries):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    channel = ChannelFactory(kind="email", url="", secret="", addresses=["a@example.com"])
    assert delivery_send(delivery_id=queue(alert, channel).pk) == "pending"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_sweepers_send_each_delivery_exactly_once(httpserver, make_alert, fast_retries):
    if not on_postgres():
        pytest.skip("row claims between threads need PostgreSQL (SQLite serialises writers anyway)")
    httpserver.expect_request("/race").respond_with_data("ok")
    channel = hook(httpserver, "/race")
    for a in [make_alert() for _ in range(40)]:
        queue(a, channel)
    barrier = threading.Barrier(2)
    results = []

    def sweeper():
        try:
            barrier.wait()
            results.append(deliveries_sweep())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(received(httpserver, "/race")) == 40
    assert Delivery.objects.filter(status="sent").count() == 40
    sent = sum(r.get("sent", 0) for r in results)
    assert len(results) == 2, "a sweeper thread failed"
    assert sent == 40  # each delivery claimed by exactly one of the two


def test_the_scheduled_sweep_queues_one_task_per_channel(alert, monkeypatch, fast_retries):
    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, ids: queued.append((func, sorted(ids))))
    slack = ChannelFactory(kind="slack", url="", secret="https://hooks.example.com/x")
    email = ChannelFactory(kind="email", url="", secret="", addresses=["oncall@example.com"])
    first, second = queue(alert, slack), queue(alert, slack, event="resolve")
    third = queue(alert, email)
    assert tasks.deliveries_sweep() == 2
    assert sorted(queued) == sorted(
        [
            ("monitoring.alerting.tasks.deliveries_send", sorted([first.pk, second.pk])),
            ("monitoring.alerting.tasks.deliveries_send", [third.pk]),
        ]
    )


def test_slack_message_escapes_control_characters_from_labels(httpserver, make_alert, fast_retries):
    """Labels come from services: `<!channel>` in one must not ping the whole Slack channel."""
    alert = make_alert(route="<!channel> & <https://evil.example|click>")
    httpserver.expect_request("/services/T/B/esc").respond_with_data("ok")
    channel = ChannelFactory(kind="slack", url="", secret=httpserver.url_for("/services/T/B/esc"))
    assert delivery_send(delivery_id=queue(alert, channel).pk) == "sent"
    (request,) = received(httpserver, "/services/T/B/esc")
    text = json.loads(request.get_data())["text"]
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text
    assert f"/alerts/{alert.pk}/|" in text  # the portal's own link is still a link


def test_a_newline_in_the_summary_does_not_stop_the_email(alert, fast_retries):
    Alert.objects.filter(pk=alert.pk).update(summary="disk full on\n/var\r\nBcc: x@example.com")
    channel = ChannelFactory(kind="email", url="", secret="", addresses=["oncall@example.com"])
    assert delivery_send(delivery_id=queue(alert, channel).pk) == "sent"
    (message,) = mail.outbox
    assert message.subject == "[FIRING] disk full on /var Bcc: x@example.com" and message.bcc == []
