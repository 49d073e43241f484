"""One-click acknowledge links for notification emails.

A link is a signed, timestamped token naming the alert, the recipient and a random nonce.
Signing makes it unforgeable and expiring; the nonce, stored once spent (AckLinkUse), makes it
single-use. Opening it (GET) only shows a confirmation page: mail scanners prefetch links.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "alerting.ack-link"


class AckLinkError(Exception):
    """The link cannot be used; the message is shown to the person who clicked."""


@dataclass(frozen=True)
class AckLink:
    alert_id: int
    recipient: str
    nonce: str


def max_age() -> timedelta:
    return timedelta(hours=getattr(settings, "ALERTING_ACK_LINK_MAX_AGE_HOURS", 24))


def ack_link_token(*, alert_id: int, recipient: str) -> str:
    payload = {"a": alert_id, "r": recipient, "n": secrets.token_hex(12)}
    return signing.dumps(payload, salt=SALT, compress=True)


def ack_link_url(*, alert_id: int, recipient: str) -> str:
    token = ack_link_token(alert_id=alert_id, recipient=recipient)
    path = reverse("alerting:ack-link", kwargs={"pk": alert_id, "token": token})
    return settings.PORTAL_BASE_URL + path


def ack_link_read(token: str, *, alert_id: int) -> AckLink:
    """Check signature, age and the alert it is bound to; raises AckLinkError."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise AckLinkError("This acknowledge link has expired. Open the alert in the portal instead.") from None
    except signing.BadSignature:
        raise AckLinkError("This acknowledge link is not valid.") from None
    if not isinstance(data, dict) or data.get("a") != alert_id:
        raise AckLinkError("This acknowledge link belongs to another alert.")
    return AckLink(alert_id=data["a"], recipient=str(data.get("r", "")), nonce=str(data.get("n", "")))
