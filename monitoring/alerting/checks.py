"""System checks for alerting settings that would silently break notifications.

Each setting's own range is enforced where it is read (portal/settings.py, `env_int`); what is
left here is a relation between two of them."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def delivery_settings(app_configs, **kwargs):
    cap = settings.ALERTING_DELIVERY_BACKOFF_MAX_SECONDS
    base = settings.ALERTING_DELIVERY_BACKOFF_SECONDS
    if cap < base:
        return [
            Error(
                f"ALERTING_DELIVERY_BACKOFF_MAX_SECONDS ({cap}) is below ALERTING_DELIVERY_BACKOFF_SECONDS ({base}).",
                hint="The cap must be at least the first delay.",
                id="alerting.E002",
            )
        ]
    return []
