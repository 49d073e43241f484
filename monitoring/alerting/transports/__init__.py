"""Channel kind -> transport class, the one registry every delivery goes through."""

from functools import cache

from django.utils.module_loading import import_string

from monitoring.alerting.transports.base import Notification, PermanentError, Transport, TransportError

REGISTRY = {
    "email": "monitoring.alerting.transports.email.EmailTransport",
    "slack": "monitoring.alerting.transports.slack.SlackTransport",
    "webhook": "monitoring.alerting.transports.webhook.WebhookTransport",
}


def transport_class(kind: str) -> type[Transport]:
    try:
        path = REGISTRY[kind]
    except KeyError:
        raise PermanentError(f"unknown channel kind {kind!r}") from None
    return _load(path)


@cache
def _load(path: str) -> type[Transport]:
    """Imported once: a storm asks for every delivery it builds (import_string each time cost
    more than building the row)."""
    return import_string(path)


__all__ = ["REGISTRY", "Notification", "PermanentError", "Transport", "TransportError", "transport_class"]
