"""Building, storing and sending reports, and the per-minute sweep of due subscriptions.

The sweep claims a due subscription with a conditional UPDATE that moves `next_send_at` from
the value it read to the next send time: only the worker whose UPDATE changed the row sends
that period's report, so two workers (or a worker and a slow previous run) never send it
twice. A unique constraint on (subscription, period_start) for scheduled reports backs the
claim. A worker that was down for a while sends one report for the latest missed period,
not one per missed period. A failed email or channel post is recorded on the Report
(status, error) and not retried: the next period's report follows on schedule.
"""

import json
import logging
import time as clock
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from monitoring.alerting.transports.base import TransportError
from monitoring.alerting.transports.http import post_json
from monitoring.alerting.transports.webhook import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_for
from portal.roles import VIEWER, has_role
from reporting.models import Report, ReportStatus, ReportSubscription
from reporting.sections import SECTIONS, Period
from reporting.subscriptions import Schedule, next_send, period_for

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "reporting.unsubscribe"
SWEEP_BATCH = 50  # subscriptions per sweep run; the rest wait a minute
CHANNEL_TIMEOUT = 10.0


def schedule_of(sub: ReportSubscription) -> Schedule:
    return Schedule(
        frequency=sub.frequency,
        at=sub.send_time,
        zone=ZoneInfo(sub.time_zone),
        weekday=sub.weekday,
        monthday=sub.monthday,
    )


def subscription_reschedule(*, sub: ReportSubscription, now: datetime | None = None) -> None:
    """Set next_send_at from the schedule (None when disabled); call after every change."""
    now = now or timezone.now()
    sub.next_send_at = next_send(schedule_of(sub), after=now) if sub.enabled else None
    ReportSubscription.objects.filter(pk=sub.pk).update(next_send_at=sub.next_send_at)


# --- Unsubscribe links ---------------------------------------------------------------------


def unsubscribe_max_age() -> timedelta:
    return timedelta(days=settings.REPORTING_UNSUBSCRIBE_MAX_AGE_DAYS)


def unsubscribe_token(sub: ReportSubscription) -> str:
    return signing.dumps({"s": sub.pk, "u": sub.user_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(sub: ReportSubscription) -> str:
    path = reverse("reporting:unsubscribe", kwargs={"token": unsubscribe_token(sub)})
    return settings.PORTAL_BASE_URL + path


class UnsubscribeError(Exception):
    """Shown to the person who clicked (400)."""


def unsubscribe_read(token: str) -> ReportSubscription | None:
    """The subscription the token names (None if it was deleted); raises UnsubscribeError."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=unsubscribe_max_age())
    except signing.SignatureExpired:
        raise UnsubscribeError(
            "This unsubscribe link has expired. Open your report subscriptions in the portal to stop them."
        ) from None
    except signing.BadSignature:
        raise UnsubscribeError("This unsubscribe link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("u"), int):
        raise UnsubscribeError("This unsubscribe link is not valid.")
    return ReportSubscription.objects.filter(pk=data["s"], user_id=data["u"]).first()


def subscription_unsubscribe(*, sub: ReportSubscription) -> None:
    sub.enabled = False
    sub.next_send_at = None
    ReportSubscription.objects.filter(pk=sub.pk).update(enabled=False, next_send_at=None)


# --- Building ------------------------------------------------------------------------------


@dataclass
class Built:
    period: Period
    figures: dict
    html: str
    text: str
    subject: str


def figures_build(sections: list[str], period: Period) -> dict:
    figures = {}
    for name in sections:
        section = SECTIONS[name]
        try:
            data = section.provider(period)
        except Exception as exc:  # one broken provider must not lose the whole report
            log.exception("report section %s failed", name)
            data = {"facts": [], "columns": [], "rows": [], "note": f"Not available: {type(exc).__name__}."}
        figures[name] = {"title": section.title, **data}
    return figures


def report_build(*, sub: ReportSubscription, period_start: datetime, period_end: datetime) -> Built:
    period = Period(period_start, period_end)
    figures = figures_build(list(sub.sections), period)
    zone = ZoneInfo(sub.time_zone)
    context = {
        "subscription": sub,
        "period_start": period_start.astimezone(zone),
        "period_end": period_end.astimezone(zone),
        "sections": [
            {
                "name": name,
                **figures[name],
                "html_template": SECTIONS[name].html_template,
                "text_template": SECTIONS[name].text_template,
            }
            for name in figures
        ],
        "base_url": settings.PORTAL_BASE_URL,
        "unsubscribe_url": unsubscribe_url(sub) if sub.pk else "",
    }
    # The end is exclusive (local midnight): name the last day covered, not the next one.
    first, last = context["period_start"].date(), (context["period_end"] - timedelta(microseconds=1)).date()
    days = f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    subject = f"{sub.get_frequency_display()} report: {days}"
    context["subject"] = subject
    html = render_to_string("reporting/report/email.html", context)
    text = render_to_string("reporting/report/email.txt", context)
    return Built(period, figures, html, text, subject)


def current_period(sub: ReportSubscription, *, now: datetime) -> tuple[datetime, datetime]:
    """The period a report made now would cover: the one ending at the latest local midnight."""
    return period_for(schedule_of(sub), send_at=now)


# --- Sending -------------------------------------------------------------------------------


def _email(sub: ReportSubscription, built: Built) -> None:
    url = unsubscribe_url(sub)
    message = EmailMultiAlternatives(
        subject=built.subject,
        body=built.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[sub.user.email],
        headers={
            # RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click" to the URL.
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(built.html, "text/html")
    message.send()


def _summary_line(report: Report, sub: ReportSubscription) -> str:
    facts = []
    for section in report.figures.values():
        facts.extend(f"{label}: {value}" for label, value in section.get("facts", [])[:2])
    link = settings.PORTAL_BASE_URL + reverse("reporting:report-detail", kwargs={"pk": report.pk})
    return f"{sub.get_frequency_display()} report {report.period_start:%Y-%m-%d}: " + "; ".join(facts) + f" ({link})"


def _post(sub: ReportSubscription, report: Report) -> None:
    channel = sub.channel
    text = _summary_line(report, sub)
    if channel.kind == "slack":
        # Slack's control characters come escaped: section values include error titles.
        safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        post_json(channel.secret, body=json.dumps({"text": safe}).encode(), headers={}, timeout=CHANNEL_TIMEOUT)
        return
    body = json.dumps(
        {
            "version": 1,
            "event": "report",
            "report": {
                "id": report.pk,
                "kind": report.kind,
                "period_start": report.period_start.isoformat(),
                "period_end": report.period_end.isoformat(),
                "summary": text,
                "figures": report.figures,
            },
        },
        sort_keys=True,
    ).encode()
    stamp = str(int(clock.time()))
    headers = {
        SIGNATURE_HEADER: signature_for(channel.secret, stamp, body),
        TIMESTAMP_HEADER: stamp,
        EVENT_HEADER: "report",
    }
    post_json(channel.url, body=body, headers=headers, timeout=CHANNEL_TIMEOUT)


def report_send(*, report: Report, sub: ReportSubscription, built: Built, now: datetime | None = None) -> Report:
    """Email and/or post the stored report; records the outcome on it."""
    errors, sent = [], 0
    if sub.email_enabled and sub.user.email:
        try:
            _email(sub, built)
            sent += 1
        except Exception as exc:  # SMTP errors are many types; all are recorded, none kills the sweep
            errors.append(f"email: {exc}")
    if sub.channel_id and sub.channel.enabled:
        try:
            _post(sub, report)
            sent += 1
        except TransportError as exc:
            errors.append(f"channel {sub.channel.name}: {exc}")
    if errors:
        report.status = ReportStatus.PARTIAL if sent else ReportStatus.FAILED
    else:
        report.status = ReportStatus.SENT if sent else ReportStatus.NOT_SENT
    report.error = "\n".join(errors)[:2000]
    report.sent_at = (now or timezone.now()) if sent else None
    report.save(update_fields=["status", "error", "sent_at"])
    return report


def report_store(*, sub: ReportSubscription, built: Built, trigger: str, now: datetime) -> Report:
    return Report.objects.create(
        subscription=sub,
        user=sub.user,
        kind=sub.frequency,
        trigger=trigger,
        period_start=built.period.start,
        period_end=built.period.end,
        figures=built.figures,
        html=built.html,
        text=built.text,
        created_at=now,
    )


def report_send_now(*, sub: ReportSubscription, now: datetime | None = None) -> Report:
    """ "Send now": the current period's report, stored and sent; the schedule is unchanged."""
    now = now or timezone.now()
    start, end = current_period(sub, now=now)
    built = report_build(sub=sub, period_start=start, period_end=end)
    report = report_store(sub=sub, built=built, trigger=Report.Trigger.MANUAL, now=now)
    return report_send(report=report, sub=sub, built=built, now=now)


def subscription_claim(*, sub_id: int, due_at: datetime, now: datetime) -> datetime | None:
    """Move next_send_at from `due_at` to the next send time. Returns `due_at` to the one
    worker whose conditional UPDATE changed the row, None to every other."""
    sub = ReportSubscription.objects.filter(pk=sub_id).first()
    if sub is None:
        return None
    following = next_send(schedule_of(sub), after=max(now, due_at))
    claimed = ReportSubscription.objects.filter(pk=sub_id, enabled=True, next_send_at=due_at).update(
        next_send_at=following
    )
    return due_at if claimed == 1 else None


def reports_send_due(*, now: datetime | None = None) -> int:
    """The per-minute sweep: claim and send every due subscription; returns reports sent."""
    now = now or timezone.now()
    due = list(
        ReportSubscription.objects.filter(enabled=True, next_send_at__lte=now)
        .order_by("next_send_at", "id")
        .values_list("pk", "next_send_at")[:SWEEP_BATCH]
    )
    done = 0
    for sub_id, due_at in due:
        try:
            done += _send_claimed(sub_id=sub_id, due_at=due_at, now=now)
        except Exception:  # one bad subscription must not stop the others
            log.exception("report for subscription %s failed", sub_id)
    return done


def _latest_send(schedule, *, due_at: datetime, now: datetime) -> datetime:
    """The last scheduled send time <= now, from `due_at` on: after an outage, the report is
    for the latest missed period (one report, not one per missed time)."""
    latest = due_at
    for _ in range(400):  # over a year of daily sends: an older backlog just reports the newest it reaches
        following = next_send(schedule, after=latest)
        if following > now:
            break
        latest = following
    return latest


def _send_claimed(*, sub_id: int, due_at: datetime, now: datetime) -> int:
    if subscription_claim(sub_id=sub_id, due_at=due_at, now=now) is None:
        return 0  # another worker has it
    sub = ReportSubscription.objects.select_related("user", "channel").get(pk=sub_id)
    if not sub.user.is_active or not has_role(sub.user, VIEWER):
        # Figures are for people who may read them now: a deactivated or demoted person's
        # subscription stays, but sends nothing until the role is back.
        log.info("report subscription %s skipped: %s may not read reports", sub_id, sub.user)
        return 0
    schedule = schedule_of(sub)
    start, end = period_for(schedule, send_at=_latest_send(schedule, due_at=due_at, now=now))
    built = report_build(sub=sub, period_start=start, period_end=end)
    try:
        with transaction.atomic():
            report = report_store(sub=sub, built=built, trigger=Report.Trigger.SCHEDULED, now=now)
    except IntegrityError:
        return 0  # this period's report exists already
    report_send(report=report, sub=sub, built=built, now=now)
    return 1
