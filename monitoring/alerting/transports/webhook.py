"""Generic webhook: the documented JSON payload, signed with HMAC-SHA256.

Receivers verify with `signature_verify` (or the same three lines in their own language):
    expected = hmac(secret, f"{timestamp}.".encode() + body, sha256).hexdigest()
    compare with the X-Portal-Signature header "sha256=<hex>", and reject old timestamps.
The payload's `delivery_id` (also in X-Portal-Delivery) is the same when a delivery is sent
again: receivers drop repeats by it.
"""

import hashlib
import hmac
import json
import time

from monitoring.alerting.transports.base import Notification, Transport
from monitoring.alerting.transports.http import post_json

SIGNATURE_HEADER = "X-Portal-Signature"
TIMESTAMP_HEADER = "X-Portal-Timestamp"
EVENT_HEADER = "X-Portal-Event"
DELIVERY_HEADER = "X-Portal-Delivery"


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_verify(
    secret: str, *, timestamp: str, body: bytes, signature: str, max_age: float = 300, now: float | None = None
) -> bool:
    """What a receiver does: constant-time compare, and refuse replays of old requests."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    if abs(age) > max_age:
        return False
    return hmac.compare_digest(signature_for(secret, timestamp, body), signature)


class WebhookTransport(Transport):
    kind = "webhook"

    @classmethod
    def config_errors(cls, *, url, secret, addresses):
        errors = {}
        if not url.startswith(("https://", "http://")):
            errors["url"] = "A webhook channel needs an http(s) URL."
        if not secret:
            errors["secret"] = "A webhook channel needs a signing secret."  # noqa: S105  (a message)
        return errors

    def send(self, notification: Notification, *, recipients=None) -> str:
        body = json.dumps(notification.payload(), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            SIGNATURE_HEADER: signature_for(self.channel.secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
            EVENT_HEADER: notification.event,
        }
        if notification.delivery_id is not None:
            headers[DELIVERY_HEADER] = str(notification.delivery_id)
        return post_json(self.channel.url, body=body, headers=headers, timeout=self.timeout)
