"""System checks for alerting settings that would silently break notifications."""

from django.conf import settings
from django.core.checks import Error, Tags, register

# Past these a failed notification is retried so late (or so long) that it is lost in practice,
# and `now + delay` can overflow a date in the delivery sweep.
MAXIMA = {
    "ALERTING_DELIVERY_MAX_ATTEMPTS": (100, "a broken channel would be retried for days"),
    "ALERTING_DELIVERY_BACKOFF_SECONDS": (86_400, "the first retry would come more than a day late"),
    "ALERTING_DELIVERY_BACKOFF_MAX_SECONDS": (7 * 86_400, "retries would come more than a week apart"),
    "ALERTING_HTTP_TIMEOUT_SECONDS": (60, "a dead Slack or webhook endpoint would hold a worker for minutes"),
}


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
    for name, (most, consequence) in MAXIMA.items():
        value = getattr(settings, name, 0)
        if value > most:
            errors.append(
                Error(f"{name} is {value}: {consequence}.", hint=f"Set {name} to at most {most:,}.", id="alerting.E003")
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
