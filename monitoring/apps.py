from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"
    # Pages in the top navigation: (label, url name). Shown once the URL exists.
    nav: list[tuple[str, str]] = [("Monitoring", "monitoring:index"), ("Health", "monitoring:health")]
    # Permissions ("app.codename") the operator role gets in addition to viewing.
    operator_permissions: tuple[str, ...] = ("monitoring.run_healthcheck",)
    # Dotted path of function(*, stdout, demo) that portal_setup calls to install defaults (idempotent).
    setup_hook: str | None = "monitoring.setup.monitoring_setup"

    def ready(self):
        # Imported here: the flusher needs models. It starts on the first record, not now.
        from monitoring.flusher import autostart_install

        autostart_install()
        # Imported for its side effect: registering the system checks.
        from monitoring import system_checks  # noqa: F401
