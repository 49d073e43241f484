"""System checks for alerting settings that would silently break notifications."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def delivery_settings(app_configs, **kwargs):
    errors = []
    positive = {
        "ALERTING_DELIVERY_MAX_ATTEMPTS": "no notification would ever be attempted",
        "ALERTING_DELIVERY_BACKOFF_SECONDS": "failed notifications would be retried in a tight loop",
        "ALERTING_ACK_LINK_MAX_AGE_HOURS": "every acknowledge link in an email would already be expired",
        "ALERTING_HTTP_TIMEOUT_SECONDS": "every Slack/webhook request would time out",
    }
    for name, consequence in positive.items():
        value = getattr(settings, name, 1)
        if value <= 0:
            errors.append(
                Error(
                    f"{name} is {value}: {consequence}.", hint=f"Set {name} to a positive number.", id="alerting.E001"
                )
            )
    cap = getattr(settings, "ALERTING_DELIVERY_BACKOFF_MAX_SECONDS", 3600)
    base = getattr(settings, "ALERTING_DELIVERY_BACKOFF_SECONDS", 60)
    if base > 0 and cap < base:
        errors.append(
            Error(
                f"ALERTING_DELIVERY_BACKOFF_MAX_SECONDS ({cap}) is below ALERTING_DELIVERY_BACKOFF_SECONDS ({base}).",
                hint="The cap must be at least the first delay.",
                id="alerting.E002",
            )
        )
    return errors
