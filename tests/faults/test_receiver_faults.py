"""Notification receivers that misbehave: a webhook receiver that is down, then slow, then
answering 500, then back; an SMTP server that is down, then deferring, then back. Deliveries are
retried by the same sweep the per-minute schedule runs, and each is sent exactly once."""

import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from monitoring.alerting.models import AlertEvent, Channel, Delivery, EventKind
from monitoring.alerting.notify import deliveries_sweep
from tests.support import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def patient_retries(settings):
    settings.ALERTING_DELIVERY_BACKOFF_SECONDS = 60
    settings.ALERTING_DELIVERY_BACKOFF_MAX_SECONDS = 3600
    settings.ALERTING_DELIVERY_MAX_ATTEMPTS = 10
    settings.ALERTING_HTTP_TIMEOUT_SECONDS = 0.3


class Receiver:
    """A webhook receiver whose behaviour the test switches: ok, slow, error."""

    def __init__(self):
        self.mode = "ok"
        self.requests = []  # (mode, alert id, event, occurred_at) for every request it saw

    def __call__(self, request):
        body = request.get_json()
        self.requests.append((self.mode, body["alert"]["id"], body["event"], body["occurred_at"]))
        if self.mode == "slow":
            time.sleep(1.0)  # past the portal's 0.3 s timeout
        if self.mode == "error":
            return Response("boom", status=500)
        return Response("ok")

    def answered_ok(self):
        return [r[1] for r in self.requests if r[0] == "ok"]


def test_a_webhook_receiver_down_slow_failing_then_back_gets_each_notification_once(fire, patient_retries):
    server = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)  # a slow answer holds no other
    receiver = Receiver()
    server.expect_request("/hook", method="POST").respond_with_handler(receiver)
    channel = Channel.objects.create(name="hook", kind="webhook", url=server.url_for("/hook"), secret="k")
    alerts = fire(channel, 5)
    ids = sorted(a.pk for a in alerts)
    now = timezone.now()
    try:
        # Down: nothing listens on the port.
        assert deliveries_sweep(now=now) == {"pending": 5}
        assert {d.last_error.split(":")[0] for d in Delivery.objects.all()} == {"connection failed"}
        server.start()
        receiver.mode = "slow"
        now += timedelta(hours=2)
        assert deliveries_sweep(now=now) == {"pending": 5}
        time.sleep(1.2)  # the receiver finishes the answers nobody waits for any more
        receiver.mode = "error"
        now += timedelta(hours=2)
        assert deliveries_sweep(now=now) == {"pending": 5}
        receiver.mode = "ok"
        now += timedelta(hours=2)
        assert deliveries_sweep(now=now) == {"sent": 5}
        for _ in range(3):  # later sweeps find nothing left to send
            now += timedelta(hours=2)
            assert deliveries_sweep(now=now) == {}
    finally:
        if server.is_running():
            server.stop()

    assert sorted(receiver.answered_ok()) == ids  # each alert acknowledged by the receiver once
    assert [r[0] for r in receiver.requests].count("slow") == 5
    # The timed-out attempt may have been processed by a receiver all the same (a timeout cannot
    # tell): every attempt carries the same alert id, event and time, so it can drop the repeat.
    per_alert = {}
    for _, alert_id, event, occurred_at in receiver.requests:
        per_alert.setdefault(alert_id, set()).add((event, occurred_at))
    assert all(len(seen) == 1 for seen in per_alert.values())
    deliveries = Delivery.objects.order_by("alert_id")
    assert [(d.alert_id, d.status, d.attempts) for d in deliveries] == [(pk, "sent", 4) for pk in ids]
    notified = AlertEvent.objects.filter(kind=EventKind.NOTIFIED).values_list("alert_id", flat=True)
    assert sorted(notified) == ids
    channel.refresh_from_db()
    assert channel.last_success_at is not None and channel.last_error == ""


class Mailbox:
    def __init__(self):
        self.mode = "ok"
        self.accepted = []

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "defer":
            return "451 4.3.0 try again later"
        self.accepted.append((tuple(envelope.rcpt_tos), envelope.content.decode(errors="replace")))
        return "250 OK"


def test_an_smtp_server_down_then_deferring_then_back_gets_each_mail_once(fire, patient_retries, settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.ALERTING_HTTP_TIMEOUT_SECONDS = 5.0
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    channel = Channel.objects.create(name="mail", kind="email", addresses=["oncall@example.com"])
    alerts = fire(channel, 3)
    now = timezone.now()
    # Down: the server is not running.
    assert deliveries_sweep(now=now) == {"pending": 3}
    assert all("SMTP" in d.last_error for d in Delivery.objects.all())
    controller.start()
    try:
        mailbox.mode = "defer"
        now += timedelta(hours=2)
        assert deliveries_sweep(now=now) == {"pending": 3}
        assert all("451" in d.last_error for d in Delivery.objects.all())
        mailbox.mode = "ok"
        now += timedelta(hours=2)
        assert deliveries_sweep(now=now) == {"sent": 3}
        now += timedelta(hours=2)
        assert deliveries_sweep(now=now) == {}
        controller.stop()
        # Down again after everything went out: nothing is pending, nothing is tried.
        now += timedelta(hours=2)
        assert deliveries_sweep(now=now) == {}
    finally:
        if controller._thread is not None:  # still running after a failed assertion
            controller.stop()
    assert len(mailbox.accepted) == 3
    assert all(rcpt == ("oncall@example.com",) for rcpt, _ in mailbox.accepted)
    assert sorted(a.summary for a in alerts) == sorted(
        next(s for s in (a.summary for a in alerts) if s in content) for _, content in mailbox.accepted
    )
    assert [(d.status, d.attempts) for d in Delivery.objects.all()] == [("sent", 3)] * 3
