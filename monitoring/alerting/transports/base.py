"""What every transport gets and may raise."""

from dataclasses import dataclass, field


class TransportError(Exception):
    """Worth retrying (server error, timeout, rate limit)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(TransportError):
    """Retrying cannot help (bad URL, 4xx other than 429, no recipients): shown on the channel."""


@dataclass(frozen=True)
class Notification:
    """Everything a transport needs to say; built once per delivery by notify.py."""

    event: str  # trigger | escalation | acknowledge | resolve | test
    title: str
    status: str
    severity: str
    summary: str
    description: str
    value: float | None
    labels: dict = field(default_factory=dict)
    alert_id: int | None = None
    alert_url: str = ""
    actor: str = ""
    step: int | None = None
    occurred_at: str = ""
    # The Delivery row's id: the same each time that delivery is sent (a retry, or a resend
    # after a worker died mid-send), so receivers can drop repeats.
    delivery_id: int | None = None

    def payload(self) -> dict:
        """The documented JSON body of webhook notifications (version 1)."""
        return {
            "version": 1,
            "event": self.event,
            "alert": {
                "id": self.alert_id,
                "status": self.status,
                "severity": self.severity,
                "summary": self.summary,
                "description": self.description,
                "value": self.value,
                "labels": self.labels,
                "url": self.alert_url,
            },
            "actor": self.actor or None,
            "escalation_step": self.step,
            "occurred_at": self.occurred_at,
            "delivery_id": self.delivery_id,
        }


class Transport:
    """One class per channel kind: validate the channel's config, send one notification."""

    kind = ""
    # Alert events this kind is told about (email stays quiet about acknowledgements).
    events = frozenset({"trigger", "escalation", "acknowledge", "resolve", "test"})

    def __init__(self, channel, *, timeout: float = 10.0):
        self.channel = channel
        self.timeout = timeout

    @classmethod
    def config_errors(cls, *, url: str, secret: str, addresses: list) -> dict[str, str]:
        """Field -> message for a channel that could never work."""
        return {}

    def send(self, notification: Notification, *, recipients: list[str] | None = None) -> str:
        """Send or raise TransportError/PermanentError; returns a short outcome note."""
        raise NotImplementedError
