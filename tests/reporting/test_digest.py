"""Building, rendering, storing and sending reports; the sweep and its claim; unsubscribe links."""

import email
import email.policy
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail, signing

from monitoring.alerting.models import Alert, AlertRule
from monitoring.errors.models import ErrorGroup
from reporting.digest import (
    UNSUBSCRIBE_SALT,
    report_build,
    report_send_now,
    reports_send_due,
    subscription_reschedule,
    unsubscribe_token,
)
from reporting.models import Report, ReportStatus, ReportSubscription
from tests.support import free_port

NOW = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # Monday 08:00 in Berlin (CEST)
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


@pytest.fixture
def sub(users):
    users["viewer"].email = "viewer@example.com"
    users["viewer"].save()
    sub = ReportSubscription.objects.create(
        user=users["viewer"],
        name="Morning",
        frequency="daily",
        sections=["alerts", "errors", "debt", "maintenance", "features", "dependencies", "uptime"],
        send_time=time(8, 0),
        time_zone="Europe/Berlin",
    )
    subscription_reschedule(sub=sub, now=NOW - timedelta(minutes=5))
    return sub


@pytest.fixture
def data(service):
    day = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # inside Sunday in Berlin
    rule = AlertRule.objects.create(name="disk", metric="disk_percent", threshold=90)
    for n in range(3):
        Alert.objects.create(
            rule=rule, service=service, fingerprint=f"f{n}", severity="critical", summary="s", created_at=day
        )
    Alert.objects.create(
        rule=rule,
        service=service,
        fingerprint="old",
        severity="critical",
        summary="s",
        created_at=day - timedelta(days=3),
    )
    ErrorGroup.objects.create(
        service=service, fingerprint="a" * 64, title=HOSTILE, times_seen=7, first_seen=day, last_seen=day
    )
    ErrorGroup.objects.create(service=service, fingerprint="b" * 64, title="old", first_seen=day - timedelta(days=5))


def test_the_schedule_sets_next_send_at_in_utc(sub):
    assert sub.next_send_at == NOW


def test_rendering_has_every_section_in_html_and_text_and_escapes_values(sub, data):
    built = report_build(
        sub=sub, period_start=datetime(2026, 3, 28, 23, tzinfo=UTC), period_end=datetime(2026, 3, 29, 22, tzinfo=UTC)
    )
    assert built.figures["alerts"]["facts"][0] == ["Alerts", 3]  # the older alert is outside the day
    assert built.figures["errors"]["facts"] == [["New error groups", 1]]
    for name in sub.sections:
        assert f'id="section-{name}"' in built.html
        assert built.figures[name]["title"] in built.text
    assert "<script>" not in built.html and "&lt;script&gt;" in built.html
    assert HOSTILE in built.text  # the text part is plain text, not HTML-escaped
    assert "&lt;" not in built.text
    assert built.subject == "Daily report: 2026-03-29"  # the local day covered


def test_a_failing_section_is_shown_as_not_available_not_lost(sub, monkeypatch):
    from reporting import sections

    def broken(period):
        raise RuntimeError("boom")

    monkeypatch.setitem(sections.SECTIONS, "debt", sections.Section("debt", "Technical debt", broken))
    built = report_build(sub=sub, period_start=NOW - timedelta(days=1), period_end=NOW)
    assert "Not available: RuntimeError" in built.text
    assert built.figures["alerts"]["title"] == "Alerts"


def test_the_sweep_sends_a_due_report_once_and_moves_next_send_at(sub, data):
    assert reports_send_due(now=NOW - timedelta(minutes=1)) == 0
    assert reports_send_due(now=NOW + timedelta(seconds=20)) == 1
    assert reports_send_due(now=NOW + timedelta(seconds=40)) == 0
    report = Report.objects.get()
    assert (report.period_start, report.period_end) == (
        datetime(2026, 3, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 29, 22, tzinfo=UTC),
    )
    assert report.status == ReportStatus.SENT and report.trigger == "scheduled"
    assert report.figures["alerts"]["facts"][0] == ["Alerts", 3]
    assert len(mail.outbox) == 1
    sub.refresh_from_db()
    assert sub.next_send_at == datetime(2026, 3, 31, 6, 0, tzinfo=UTC)


def test_a_worker_down_for_days_sends_one_report_for_the_latest_due_time(sub):
    assert reports_send_due(now=NOW + timedelta(days=3, hours=1)) == 1
    sub.refresh_from_db()
    assert sub.next_send_at == datetime(2026, 4, 3, 6, 0, tzinfo=UTC)
    report = Report.objects.get()  # one report, for the day before the latest missed send (04-02 08:00)
    assert (report.period_start, report.period_end) == (
        datetime(2026, 3, 31, 22, tzinfo=UTC),
        datetime(2026, 4, 1, 22, tzinfo=UTC),
    )


def test_disabled_and_unsubscribed_subscriptions_are_not_sent(sub):
    sub.enabled = False
    sub.save()
    assert reports_send_due(now=NOW + timedelta(minutes=1)) == 0


def test_send_now_stores_and_sends_without_moving_the_schedule(sub):
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        report = report_send_now(sub=sub)
    assert report.trigger == "manual" and report.status == ReportStatus.SENT
    assert len(mail.outbox) == 1
    sub.refresh_from_db()
    assert sub.next_send_at == NOW


def test_email_off_and_no_channel_is_stored_as_not_sent(sub):
    sub.email_enabled = False
    sub.save()
    report = report_send_now(sub=sub)
    assert report.status == ReportStatus.NOT_SENT and report.sent_at is None and not mail.outbox


def test_webhook_channel_gets_a_signed_summary(sub, httpserver):
    from monitoring.alerting.models import Channel

    channel = Channel.objects.create(name="hook", kind="webhook", url=httpserver.url_for("/hook"), secret="s3cret")
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    sub.channel = channel
    sub.save()
    report = report_send_now(sub=sub)
    assert report.status == ReportStatus.SENT, report.error
    request = httpserver.log[0][0]
    assert request.headers["X-Portal-Event"] == "report"
    assert request.headers["X-Portal-Signature"].startswith("sha256=")
    assert request.get_json()["report"]["id"] == report.pk


def test_a_failing_channel_keeps_the_email_and_records_partial(sub, httpserver):
    from monitoring.alerting.models import Channel

    channel = Channel.objects.create(name="hook", kind="webhook", url=httpserver.url_for("/hook"), secret="s")
    httpserver.expect_request("/hook").respond_with_data("no", status=400)
    sub.channel = channel
    sub.save()
    report = report_send_now(sub=sub)
    assert report.status == ReportStatus.PARTIAL and "channel hook" in report.error
    assert len(mail.outbox) == 1


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    yield sink
    controller.stop()


def test_real_smtp_delivery_has_text_and_html_parts_and_one_click_unsubscribe(sub, data, smtp, settings):
    settings.PORTAL_BASE_URL = "https://portal.example"
    with time_machine.travel(NOW, tick=False):
        report = report_send_now(sub=sub)
    assert report.status == ReportStatus.SENT, report.error
    [(rcpts, raw)] = smtp.messages
    assert rcpts == ["viewer@example.com"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = str(message["List-Unsubscribe"]).strip()
    assert header.startswith("<https://portal.example/reporting/unsubscribe/") and header.endswith("/>")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "== New error groups ==" in text and HOSTILE in text
    assert "Morning - 2026-03-29 00:00 to 2026-03-30 00:00 (Europe/Berlin)" in text  # shown in local time
    assert 'id="section-errors"' in html and "&lt;script&gt;" in html and "<script>" not in html
    assert header[1:-1] in html and header[1:-1] in text


def _token_path(token):
    return f"/reporting/unsubscribe/{token}/"


def test_a_valid_one_click_post_unsubscribes_without_login(sub, client):
    response = client.post(_token_path(unsubscribe_token(sub)), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and b'id="unsubscribed"' in response.content
    sub.refresh_from_db()
    assert not sub.enabled and sub.next_send_at is None
    assert reports_send_due(now=NOW + timedelta(minutes=1)) == 0


def test_get_only_asks_so_link_scanners_change_nothing(sub, client):
    response = client.get(_token_path(unsubscribe_token(sub)))
    assert response.status_code == 200 and b"Unsubscribe</button>" in response.content
    sub.refresh_from_db()
    assert sub.enabled


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_is_refused_with_400(sub, client, method):
    token = unsubscribe_token(sub)
    forged = signing.dumps({"s": sub.pk + 1, "u": sub.user_id}, salt=UNSUBSCRIBE_SALT, key="not-our-key")
    for bad in (token[:-2] + ("aa" if not token.endswith("aa") else "bb"), forged):
        response = getattr(client, method)(_token_path(bad))
        assert response.status_code == 400
        assert b"not valid" in response.content
    sub.refresh_from_db()
    assert sub.enabled


def test_an_expired_link_is_refused_with_a_clear_page(sub, client, settings):
    settings.REPORTING_UNSUBSCRIBE_MAX_AGE_DAYS = 30
    with time_machine.travel(NOW, tick=False):
        token = unsubscribe_token(sub)
    with time_machine.travel(NOW + timedelta(days=31), tick=False):
        response = client.post(_token_path(token))
    assert response.status_code == 400
    assert b"expired" in response.content and b'id="unsubscribe-error"' in response.content
    sub.refresh_from_db()
    assert sub.enabled


def test_the_sweep_is_a_declared_per_minute_schedule():
    from django.utils.module_loading import import_string

    from portal.schedules import declared_schedules

    [periodic] = [p for p in declared_schedules() if p.name == "reporting.send_due_reports"]
    assert periodic.minutes == 1 and import_string(periodic.func) is reports_send_due


def test_the_unsubscribe_link_of_a_sent_email_works(sub, client):
    report_send_now(sub=sub)
    header = mail.outbox[0].extra_headers["List-Unsubscribe"]
    path = header.strip("<>").split("//", 1)[1].split("/", 1)[1]
    response = client.post("/" + path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    sub.refresh_from_db()
    assert not sub.enabled


def test_a_slack_channel_gets_an_escaped_one_line_summary(sub, data, httpserver):
    from monitoring.alerting.models import Channel

    sub.channel = Channel.objects.create(name="slack", kind="slack", secret=httpserver.url_for("/slack"))
    sub.email_enabled = False
    sub.sections = ["errors"]
    sub.save()
    httpserver.expect_oneshot_request("/slack", method="POST").respond_with_data("ok")
    with time_machine.travel(NOW, tick=False):
        report = report_send_now(sub=sub)
    assert report.status == ReportStatus.SENT, report.error
    text = httpserver.log[0][0].get_json()["text"]
    assert "New error groups: 1" in text and f"/reporting/reports/{report.pk}/" in text


def test_a_deactivated_or_demoted_subscriber_gets_nothing(sub, users):
    from django.contrib.auth.models import Group

    users["viewer"].groups.remove(Group.objects.get(name="viewer"))
    assert reports_send_due(now=NOW + timedelta(seconds=5)) == 0
    assert not Report.objects.exists() and not mail.outbox
    sub.refresh_from_db()
    assert sub.next_send_at == NOW + timedelta(days=1)  # claimed and moved on, not retried each minute


def test_the_sweep_costs_a_fixed_number_of_queries_per_subscription(users, data):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def sweep(n, day):
        for i in range(n):
            s = ReportSubscription.objects.create(
                user=users["viewer"], name=f"q{day}-{i}", frequency="daily", sections=["alerts", "errors"]
            )
            subscription_reschedule(sub=s, now=datetime(2026, 5, day, 7, tzinfo=UTC))
        with CaptureQueriesContext(connection) as queries:
            assert reports_send_due(now=datetime(2026, 5, day, 8, 1, tzinfo=UTC)) == n
        ReportSubscription.objects.update(enabled=False)
        return len(queries)

    one, five = sweep(1, 1), sweep(5, 2)
    per_subscription = one - 1  # the due list is one query
    assert five == 1 + 5 * per_subscription
    assert per_subscription <= 25
