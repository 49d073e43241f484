from django.apps import AppConfig
from django.conf import settings


class AnalyticsConfig(AppConfig):
    name = "analytics"
    # Pages in the top navigation: (label, url name). Shown once the URL exists.
    nav: list[tuple[str, str]] = [("Analytics", "analytics:features"), ("Behaviour", "analytics:behaviour-paths")]
    # Permissions ("app.codename") the operator role gets in addition to viewing.
    operator_permissions: tuple[str, ...] = ()
    # Dotted path of function(*, stdout, demo) that portal_setup calls to install defaults (idempotent).
    setup_hook: str | None = None

    def ready(self):
        # The portal's own @track_usage events go to its database. This only configures the
        # default tracker: its flush thread starts with the first event (see analytics.tracker).
        if settings.ANALYTICS_TRACKER_ENABLED:
            from analytics.tracker_db import tracker_install  # needs the app registry

            tracker_install()
