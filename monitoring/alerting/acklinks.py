"""One-click acknowledge links for notification emails.

A link is a signed, timestamped token naming the alert, the recipient (the address the mail
went to), the channel that sent it and a random nonce. Signing makes it unforgeable and
expiring; the nonce, stored once spent (AckLinkUse), makes it single-use. Opening it (GET) only
shows a confirmation page: mail scanners prefetch links.

The link acts for its recipient only while that recipient may acknowledge: an active operator
or admin with that email, or an address the sending email channel lists with `"ack": true`.
This is checked when the mail is written (others get no link) and again when it is used (a
demoted person or an address taken off the channel loses the power at once).
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import reverse

from monitoring.alerting.models import Channel
from portal.roles import OPERATOR, has_role

SALT = "alerting.ack-link"
# One message for every unusable token, so a guessed or stale link tells nothing about the alert.
INVALID = "This acknowledge link is not valid. Open the alert in the portal instead."


class AckLinkError(Exception):
    """The link cannot be used; the message is shown to the person who clicked."""


@dataclass(frozen=True)
class AckLink:
    alert_id: int
    recipient: str
    channel_id: int | None
    nonce: str


def max_age() -> timedelta:
    return timedelta(hours=getattr(settings, "ALERTING_ACK_LINK_MAX_AGE_HOURS", 24))


def ack_user(address: str):
    """The active operator or admin whose account has this email, or None."""
    people = get_user_model().objects.filter(email__iexact=address, is_active=True).order_by("pk")
    return next((user for user in people if has_role(user, OPERATOR)), None)


def ack_allowed(*, recipient: str, channel: Channel | None) -> bool:
    """May a mail to `recipient` (sent through `channel`, None for a person paged directly) carry
    a working acknowledge link?"""
    return ack_user(recipient) is not None or _listed(recipient, channel)


def _listed(recipient: str, channel: Channel | None) -> bool:
    return channel is not None and channel.kind == "email" and recipient.lower() in channel.ack_addresses()


def ack_link_token(*, alert_id: int, recipient: str, channel_id: int | None = None) -> str:
    payload = {"a": alert_id, "r": recipient, "c": channel_id, "n": secrets.token_hex(12)}
    return signing.dumps(payload, salt=SALT, compress=True)


def ack_link_url(*, alert_id: int, recipient: str, channel_id: int | None = None) -> str:
    token = ack_link_token(alert_id=alert_id, recipient=recipient, channel_id=channel_id)
    path = reverse("alerting:ack-link", kwargs={"pk": alert_id, "token": token})
    return settings.PORTAL_BASE_URL + path


def ack_link_read(token: str, *, alert_id: int) -> AckLink:
    """Check signature, age and the alert it is bound to; raises AckLinkError."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise AckLinkError("This acknowledge link has expired. Open the alert in the portal instead.") from None
    except signing.BadSignature:
        raise AckLinkError(INVALID) from None
    if not isinstance(data, dict) or data.get("a") != alert_id or not data.get("r") or not data.get("n"):
        raise AckLinkError(INVALID)
    channel_id = data.get("c")
    return AckLink(
        alert_id=alert_id,
        recipient=str(data["r"]),
        channel_id=channel_id if isinstance(channel_id, int) else None,
        nonce=str(data["n"]),
    )


def ack_link_actor(link: AckLink):
    """The user the acknowledgement is attributed to (None for an allowed outside address);
    raises AckLinkError when the recipient may not acknowledge (any more)."""
    user = ack_user(link.recipient)
    if user is not None:
        return user
    channel = Channel.objects.filter(pk=link.channel_id).first() if link.channel_id else None
    if _listed(link.recipient, channel):
        return None
    raise AckLinkError(
        "This acknowledge link does not work for its recipient: acknowledging needs the operator role. "
        "Open the alert in the portal instead."
    )
