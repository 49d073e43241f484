"""Email: one message per recipient (each carries its own one-click acknowledge link)."""

import hashlib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.template.loader import render_to_string

from monitoring.alerting.acklinks import ack_allowed, ack_link_url
from monitoring.alerting.transports.base import Notification, PermanentError, Transport, TransportError


def message_id(*, delivery_id: int, recipient: str) -> str:
    """The same Message-ID each time a delivery is mailed to a recipient, so mail systems drop a
    resend. Named after the portal's address, not the sending machine: any worker may resend."""
    domain = urlsplit(settings.PORTAL_BASE_URL).hostname or "portal.invalid"
    person = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:16]
    return f"<alert-delivery-{delivery_id}.{person}@{domain}>"


class EmailTransport(Transport):
    kind = "email"
    events = frozenset({"trigger", "escalation", "resolve", "test"})

    @classmethod
    def config_errors(cls, *, url, secret, addresses):
        if not isinstance(addresses, list):
            return {"addresses": "Expected a list of email addresses."}
        for index, entry in enumerate(addresses):
            address = entry
            if isinstance(entry, dict):
                if set(entry) - {"address", "ack"} or not isinstance(entry.get("ack", False), bool):
                    return {"addresses": f'[{index}]: expected {{"address": "…", "ack": true or false}}.'}
                address = entry.get("address")
            try:
                validate_email(address)
            except Exception:
                return {"addresses": f"[{index}]: not an email address: {address!r}"}
        return {}

    def send(self, notification: Notification, *, recipients: list[str] | None = None) -> str:
        if not recipients:
            raise PermanentError("no recipients: add users, groups or addresses to the channel")
        messages = []
        offers_ack = notification.alert_id and notification.event in ("trigger", "escalation")
        channel_id = self.channel.pk if self.channel is not None else None
        for recipient in recipients:
            ack_url = ""
            # Only people who may acknowledge get a link: a forwarded or leaked mail to anyone
            # else must not be able to act.
            if offers_ack and ack_allowed(recipient=recipient, channel=self.channel):
                ack_url = ack_link_url(alert_id=notification.alert_id, recipient=recipient, channel_id=channel_id)
            context = {"n": notification, "ack_url": ack_url}
            # One line: a newline from a label value would make Django refuse the header.
            subject = " ".join(f"[{notification.status.upper()}] {notification.summary}".split())[:200]
            headers = {}
            if notification.delivery_id is not None:
                headers = {
                    "Message-ID": message_id(delivery_id=notification.delivery_id, recipient=recipient),
                    "X-Portal-Delivery": str(notification.delivery_id),
                }
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string("alerting/email/notification.txt", context),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[recipient],
                headers=headers,
            )
            message.attach_alternative(render_to_string("alerting/email/notification.html", context), "text/html")
            messages.append(message)
        try:
            with get_connection(timeout=self.timeout) as connection:
                sent = connection.send_messages(messages)
        except OSError as exc:  # smtplib errors are OSErrors; so are refused connections
            raise TransportError(f"SMTP: {exc}") from exc
        return f"sent to {sent or len(messages)} recipient(s)"
