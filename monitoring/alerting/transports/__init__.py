"""Channel kind -> transport class, the one registry every delivery goes through."""

from django.utils.module_loading import import_string

from monitoring.alerting.transports.base import Notification, PermanentError, Transport, TransportError

REGISTRY = {
    "email": "monitoring.alerting.transports.email.EmailTransport",
    "slack": "monitoring.alerting.transports.slack.SlackTransport",
    "webhook": "monitoring.alerting.transports.webhook.WebhookTransport",
}


def transport_class(kind: str) -> type[Transport]:
    try:
        return import_string(REGISTRY[kind])
    except KeyError:
        raise PermanentError(f"unknown channel kind {kind!r}") from None


__all__ = ["REGISTRY", "Notification", "PermanentError", "Transport", "TransportError", "transport_class"]
