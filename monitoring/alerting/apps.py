from django.apps import AppConfig


class AlertingConfig(AppConfig):
    """Alert rules, alerts and their lifecycle, channels, escalation, silences.

    Part of monitoring, kept as its own app (label `alerting`) so its models and migrations
    evolve apart from the metric and health-check storage they read.
    """

    name = "monitoring.alerting"
    label = "alerting"
    verbose_name = "Alerting"
    nav: list[tuple[str, str]] = [("Alerts", "alerting:list")]
    # Operators work alerts (acknowledge/resolve/reopen/comment) and create silences.
    operator_permissions: tuple[str, ...] = ("alerting.acknowledge_alert", "alerting.add_silence")
    # Dotted path of function(*, stdout, demo) that portal_setup calls to install defaults (idempotent).
    setup_hook: str | None = "monitoring.alerting.defaults.install"

    def ready(self):
        # Imported for its side effect: registering the system checks.
        from monitoring.alerting import checks  # noqa: F401
