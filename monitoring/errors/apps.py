from django.apps import AppConfig


class ErrorsConfig(AppConfig):
    """Error groups, their events and lifecycle; the Sentry-SDK-compatible ingest lives in `sentry/`.

    Part of monitoring, kept as its own app (label `errors`) so its tables and migrations evolve
    apart from the metric storage."""

    name = "monitoring.errors"
    label = "errors"
    verbose_name = "Errors"
    nav: list[tuple[str, str]] = [("Errors", "errors:list")]
    # Operators change a group's status and merge groups.
    operator_permissions: tuple[str, ...] = ("errors.change_status_errorgroup",)

    def ready(self):
        # Imported for its side effect: connecting the capture hooks (the portal's own request
        # and task failures become error events).
        from monitoring.errors import hooks  # noqa: F401
